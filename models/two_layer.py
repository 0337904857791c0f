"""The VAE with two stochastic layers of the IWAE paper (Burda et al. 2015, sec. 5), a chain from the top:

    z2 ~ Normal(0, I)                             the upper latent, `z2_dim` numbers
    z1 | z2 ~ Normal(upper_decoder(z2))           the lower latent, its loc and scale from z2 (nets.diagonal_normal)
    x | z1 ~ Bernoulli(logits = lower_decoder(z1))
"""
import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.nets import diagonal_normal


class TwoLayerVAE(nn.Module):
    def __init__(self, upper_decoder: nn.Module, lower_decoder: nn.Module, z2_dim: int):
        super().__init__()
        self.upper_decoder = upper_decoder
        self.lower_decoder = lower_decoder
        self.z2_dim = z2_dim

    def forward(self, x):
        pyro.module("upper_decoder", self.upper_decoder)
        pyro.module("lower_decoder", self.lower_decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z2 = pyro.sample("z2", dist.Normal(x.new_zeros(self.z2_dim), 1.0).to_event(1))
            z1 = pyro.sample("z1", diagonal_normal(self.upper_decoder(z2)).to_event(1))
            pixels = dist.Bernoulli(logits=self.lower_decoder(z1), validate_args=False)  # grey x: soft targets
            pyro.sample("x", pixels.to_event(1), obs=x)
