"""The bottom-up guide of a hierarchy of Gaussian layers (the IWAE paper's, Burda et al. 2015 sec. 5), each layer
inferred from the one below it:

    q(z_1 | x) = Normal(encoders[0](x)),   q(z_l | z_(l-1)) = Normal(encoders[l-1](z_(l-1)))   (nets.diagonal_normal)
"""
import math

import pyro
from torch import nn

from ppl_vae.nets import diagonal_normal, mlp


class BottomUpGuide(nn.Module):
    def __init__(self, encoders: nn.ModuleList):
        super().__init__()
        self.encoders = encoders

    def forward(self, x):
        pyro.module("encoders", self.encoders)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = x
            for layer, encoder in enumerate(self.encoders, start=1):
                z = pyro.sample(f"z{layer}", diagonal_normal(encoder(z)).to_event(1))


def build(cfg, info):
    """The mirror of the two-layer model's networks (models/hierarchical.py, TwoLayerConfig): x - lower_hidden -
    z1 - upper_hidden - z2."""
    m = info.config
    (z1, z2), data_dim = m.latents, math.prod(info.image_shape)
    return BottomUpGuide(nn.ModuleList([mlp([data_dim, *m.lower_hidden, 2 * z1]), mlp([z1, *m.upper_hidden, 2 * z2])]))
