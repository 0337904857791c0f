"""The VAE's generative program (Kingma & Welling 2014), with independent Bernoulli pixels:

    z ~ Normal(0, I)                       latent code, `latent_dim` numbers
    x | z ~ Bernoulli(logits = decoder(z))  one coin per pixel
"""
import pyro
import pyro.distributions as dist
from torch import nn


class VAE(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim

    def forward(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.latent_dim), 1.0).to_event(1))
            # validate_args=False: with --binarize none, x holds intensities in [0, 1], outside Bernoulli's support,
            # used as soft targets as in Pyro's VAE example.
            pixels = dist.Bernoulli(logits=self.decoder(z), validate_args=False)
            pyro.sample("x", pixels.to_event(1), obs=x)
