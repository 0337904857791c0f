"""The amortized mean-field Gaussian guide of the VAE:

    q(z | x) = Normal(z; loc(x), diag(scale(x)^2)),  loc, scale from one encoder network

The encoder outputs 2 * latent_dim numbers: the loc, and a pre-activation made positive by softplus
(nets.diagonal_normal).
"""
import pyro
from torch import nn

from ppl_vae.nets import diagonal_normal


class GaussianGuide(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("z", diagonal_normal(self.encoder(x)).to_event(1))
