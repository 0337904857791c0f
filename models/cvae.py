"""The conditional VAE of Sohn et al. 2015 for label-conditional images: the label y is an input of the program, not
one of its variables,

    z ~ Normal(0, I)                               the style
    x | y, z ~ Bernoulli(logits = decoder(z, y))   one coin per pixel

so p(x | y) = E_p(z)[p(x | y, z)] is what the importance-weighted evaluator estimates. y is one-hot.
"""
import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.nets import concat


class CVAE(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, num_classes: int = 10):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.num_classes = num_classes

    def forward(self, x, y):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.latent_dim), 1.0).to_event(1))
            pixels = dist.Bernoulli(logits=self.decoder(concat(z, y)), validate_args=False)
            pyro.sample("x", pixels.to_event(1), obs=x)
