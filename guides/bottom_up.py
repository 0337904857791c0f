"""The bottom-up guide of a hierarchy of Gaussian layers (the IWAE paper's, Burda et al. 2015 sec. 5), each layer
inferred from the one below it:

    q(z_1 | x) = Normal(encoders[0](x)),   q(z_l | z_(l-1)) = Normal(encoders[l-1](z_(l-1)))   (nets.diagonal_normal)
"""
import pyro
from torch import nn

from ppl_vae.nets import diagonal_normal
from ppl_vae.pairs import Guide


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
    """One encoder per layer z1, z2, ... of the model, each the mirror of that layer's decoder (the model's encoder
    of that `layer`), to the loc and scale of its Gaussian."""
    return BottomUpGuide(nn.ModuleList(info.encoder(2 * size, layer=layer)
                                       for layer, size in enumerate(info.layers(), start=1)))


GUIDES = {"bottom-up": Guide("q(z1 | x) q(z2 | z1), the IWAE paper's two-layer guide", build)}
