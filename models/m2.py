"""The M2 model of Kingma et al. 2014 (sec. 3.1.2), a generative program over an image and its class:

    y ~ Categorical(1/10)                          observed when the image is labelled, latent otherwise
    z ~ Normal(0, I)                               the style, independent of the class
    x | y, z ~ Bernoulli(logits = decoder(z, y))   one coin per pixel
            or Normal(decoder(z, y))               M1+M2 (sec. 3.1.3): x is the code of an image under a trained VAE

The class is a one-hot vector, so the decoder reads [z, y] and Pyro enumerates y by its support.
"""
import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.nets import concat


def pixels(logits):
    """Independent Bernoulli pixels (validate_args=False: grey images are soft targets)."""
    return dist.Bernoulli(logits=logits, validate_args=False)


class M2(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, num_classes: int = 10, likelihood=pixels):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.likelihood = likelihood

    def forward(self, x, y=None):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            y = pyro.sample("y", dist.OneHotCategorical(logits=x.new_zeros(self.num_classes)), obs=y)
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.latent_dim), 1.0).to_event(1))
            pyro.sample("x", self.likelihood(self.decoder(concat(z, y))).to_event(1), obs=x)
