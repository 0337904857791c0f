"""The conditional VAE of Sohn et al. 2015 for label-conditional images: the label y is an input of the program, not
one of its variables,

    z ~ Normal(0, I)                               the style
    x | y, z ~ likelihood(decoder(z, y))           one factor per pixel

so p(x | y) = E_p(z)[p(x | y, z)] is what the importance-weighted evaluator estimates. y is one-hot, of the data's
classes. The model requires y, so every step is given the labels (schemes.labelled).
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import concat, mlp
from ppl_vae.options import option
from ppl_vae.pairs import Variant


class CVAE(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, num_classes: int, likelihood: nn.Module):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.likelihood = likelihood

    def forward(self, x, y):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.latent_dim), 1.0).to_event(1))
            pyro.sample("x", self.likelihood(self.decoder(concat(z, y))).to_event(1), obs=x)


@dataclass
class CVAEConfig(LikelihoodConfig):
    latent: int = option(50, "latent dimension", minimum=1)
    hidden: list[int] = option([500], "hidden layer sizes of the MLPs (softplus), encoder side first; the decoder "
                               "mirrors them", minimum=1)


def build(cfg: CVAEConfig, data):
    if not data.num_classes:
        raise ValueError("the CVAE is conditioned on the labels; this dataset has none")
    decoder = mlp([cfg.latent + data.num_classes, *reversed(cfg.hidden), math.prod(data.image_shape)], nn.Softplus)
    return CVAE(decoder, cfg.latent, data.num_classes, cfg.likelihood_module())


def encoder(cfg: CVAEConfig, image_shape, out_dim, extra_inputs=0):
    return mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], nn.Softplus)


VARIANTS = {
    "cvae": Variant(build, "label-conditional VAE: p(x | y, z) with q(z | x, y), y given (Sohn et al. 2015)", CVAEConfig,
                    "conditional", encoder),
}
