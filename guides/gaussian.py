"""The amortized mean-field Gaussian guide of the VAE:

    q(z | x) = Normal(z; loc(x), diag(scale(x)^2)),  loc, scale from one encoder network

The encoder outputs 2 * latent_dim numbers: the loc, and a pre-activation made positive by softplus (smooth and
linear for large inputs, so the scale cannot overflow as exp's can).
"""
import pyro
import pyro.distributions as dist
import torch.nn.functional as F
from torch import nn


class GaussianGuide(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            loc, raw_scale = self.encoder(x).chunk(2, dim=-1)
            pyro.sample("z", dist.Normal(loc, F.softplus(raw_scale)).to_event(1))
