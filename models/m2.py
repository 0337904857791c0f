"""The M2 model of Kingma et al. 2014 (sec. 3.1.2), a generative program over an image and its class:

    y ~ Categorical(1/10)                          observed when the image is labelled, latent otherwise
    z ~ Normal(0, I)                               the style, independent of the class
    x | y, z ~ Bernoulli(logits = decoder(z, y))   one coin per pixel

The class is a one-hot vector, so the decoder reads [z, y] and Pyro enumerates y by its support.
"""
import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.nets import concat


class M2(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, num_classes: int = 10):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.num_classes = num_classes

    def forward(self, x, y=None):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            y = pyro.sample("y", dist.OneHotCategorical(logits=x.new_zeros(self.num_classes)), obs=y)
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.latent_dim), 1.0).to_event(1))
            pixels = dist.Bernoulli(logits=self.decoder(concat(z, y)), validate_args=False)
            pyro.sample("x", pixels.to_event(1), obs=x)
