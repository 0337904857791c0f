"""The bottom-up guide of the two-stochastic-layer VAE (Burda et al. 2015, sec. 5):

    q(z1 | x) = Normal(lower_encoder(x))     (nets.diagonal_normal)
    q(z2 | z1) = Normal(upper_encoder(z1))
"""
import pyro
from torch import nn

from ppl_vae.nets import diagonal_normal


class TwoLayerGuide(nn.Module):
    def __init__(self, lower_encoder: nn.Module, upper_encoder: nn.Module):
        super().__init__()
        self.lower_encoder = lower_encoder
        self.upper_encoder = upper_encoder

    def forward(self, x):
        pyro.module("lower_encoder", self.lower_encoder)
        pyro.module("upper_encoder", self.upper_encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z1 = pyro.sample("z1", diagonal_normal(self.lower_encoder(x)).to_event(1))
            pyro.sample("z2", diagonal_normal(self.upper_encoder(z1)).to_event(1))
