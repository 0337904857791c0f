"""The M2 model of Kingma et al. 2014 (sec. 3.1.2), a generative program over an image and its class:

    y ~ Categorical(1/C)                           observed when the image is labelled, latent otherwise
    z ~ Normal(0, I)                               the style, independent of the class
    x | y, z ~ likelihood(decoder(z, y))           one factor per pixel (Bernoulli by default)
            or Normal(decoder(z, y))               M1+M2 (sec. 3.1.3): x is the code of an image under a trained VAE

The class is a one-hot vector of the data's C classes, so the decoder reads [z, y] and Pyro enumerates y by its
support. It trains semi-supervised (schemes.semi_supervised); M1+M2 on the codes of a trained run (--codes-of).
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import concat, diagonal_normal, init_hidden_normal_, mlp
from ppl_vae.options import Options, option
from ppl_vae.pairs import Variant
from ppl_vae.schemes import SEMI_SUPERVISED


class M2(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, num_classes: int, likelihood):
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


@dataclass
class M1M2Config(Options):
    # Defaults: Kingma et al. 2014's M2 as in Pyro's example: one hidden layer of 500 softplus units in each network,
    # 50 latent units.
    latent: int = option(50, "latent dimension", minimum=1)
    hidden: list[int] = option([500], "hidden layer sizes of the MLPs (softplus), encoder side first; the decoder "
                               "mirrors them", minimum=1)
    # At N = 100 the initialization matters: with PyTorch's default validation accuracy stalled near 0.60 (the decoder
    # learns to draw digits from z alone before the classes mean anything).
    init_std: float = option(0.001, "the hidden layers' weights and biases drawn from Normal(0, S^2), the output "
                             "layer left at PyTorch's default (Pyro's example: 0.001); 0: PyTorch's default for all",
                             minimum=0)


@dataclass
class M2Config(M1M2Config, LikelihoodConfig):
    pass


def initialized(cfg: M1M2Config, net):
    return init_hidden_normal_(net, cfg.init_std) if cfg.init_std else net


def classes_of(data):
    if not data.num_classes:
        raise ValueError("M2's class y takes the labels' values; this dataset has no labels")
    return data.num_classes


def build(cfg: M2Config, data):
    decoder = mlp([cfg.latent + classes_of(data), *reversed(cfg.hidden), math.prod(data.image_shape)], nn.Softplus)
    return M2(initialized(cfg, decoder), cfg.latent, classes_of(data), cfg.likelihood_module())


def build_m1m2(cfg: M1M2Config, data):
    """M2 with Gaussian features: the data are the codes of a trained run (--codes-of), of shape (latent,); the
    decoder gives a loc and a raw scale per feature."""
    decoder = mlp([cfg.latent + classes_of(data), *reversed(cfg.hidden), 2 * math.prod(data.image_shape)],
                  nn.Softplus)
    return M2(initialized(cfg, decoder), cfg.latent, classes_of(data), diagonal_normal)


def encoder(cfg: M1M2Config, image_shape, out_dim, extra_inputs=0):
    return initialized(cfg, mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], nn.Softplus))


VARIANTS = {
    "m2": Variant(build, "semi-supervised M2: the class observed when labelled, summed out by enumeration when not "
                  "(Kingma et al. 2014)", M2Config, "m2", encoder, SEMI_SUPERVISED, train={"elbo": "enum"}),
    "m1m2": Variant(build_m1m2, "M1+M2: M2 on the codes (means of q(z1 | x)) of a trained VAE, --codes-of RUN_DIR, "
                    "with Gaussian features (Kingma et al. 2014)", M1M2Config, "m2", encoder, SEMI_SUPERVISED,
                    train={"elbo": "enum"}),
}
