"""The M2 model of Kingma et al. 2014 (sec. 3.1.2), a generative program over an image and its class:

    y ~ Categorical(1/10)                          observed when the image is labelled, latent otherwise
    z ~ Normal(0, I)                               the style, independent of the class
    x | y, z ~ likelihood(decoder(z, y))           one factor per pixel (Bernoulli by default)
            or Normal(decoder(z, y))               M1+M2 (sec. 3.1.3): x is the code of an image under a trained VAE

The class is a one-hot vector, so the decoder reads [z, y] and Pyro enumerates y by its support.
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import concat, diagonal_normal, init_hidden_normal_, mlp
from ppl_vae.options import Options, option

SCHEDULES = ("spread", "every-step", "oversampled")


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
class SemiSupervisedConfig(Options):
    # Defaults: Kingma et al. 2014's M2 as in Pyro's example: one hidden layer of 500 softplus units in each network,
    # 50 latent units.
    latent: int = option(50, "latent dimension", minimum=1)
    hidden: list[int] = option([500], "hidden layer sizes of the MLPs (softplus), encoder side first; the decoder "
                               "mirrors them", minimum=1)
    labelled: int = option(3000, "labelled training images, as many of each class, drawn with --seed", minimum=1)
    labelled_batch: int = option(100, "labelled images in each labelled step", minimum=1)
    alpha: float = option(46.0, "weight of the classification term alpha log q(y | x) per labelled image (Kingma et "
                          "al.'s eq. 9; Pyro's example: 46)", minimum=0)
    # At N = 100 the initialization matters: with PyTorch's default validation accuracy stalled near 0.60 (the decoder
    # learns to draw digits from z alone before the classes mean anything).
    init_std: float = option(0.001, "the hidden layers' weights and biases drawn from Normal(0, S^2), the output "
                             "layers left at PyTorch's default (Pyro's example: 0.001); 0: PyTorch's default for all",
                             minimum=0)
    schedule: str = option("spread", "how the labelled images meet the unlabelled ones: spread, a pass of labelled "
                           "batches per epoch spread evenly among the unlabelled steps (Pyro's example); every-step, "
                           "a labelled batch in every step, the labelled set cycled and its terms weighted so that "
                           "an epoch's objective is the same (Kingma et al.'s code); oversampled, the same steps "
                           "with each labelled image weighted as an unlabelled one, so the labelled set counts as "
                           "often per epoch as it is seen", choices=SCHEDULES)
    supervised_only: bool = option(False, "train on the labelled images alone: the classifier learns from alpha "
                                   "log q(y | x) only (the labelled ELBO does not involve q(y | x)), a supervised "
                                   "baseline")


@dataclass
class M2Config(SemiSupervisedConfig, LikelihoodConfig):
    pass


@dataclass
class M1M2Config(SemiSupervisedConfig):
    m1: str = option("", "M1+M2: the run folder of the trained VAE whose codes (the means of its q(z1 | x)) M2 sees")
    active: float = option(0.0, "keep only M1's active units, whose means of q(z1 | x) vary over the training images "
                           "with a standard deviation above this (Kingma et al.'s code: 0.1); 0 keeps every unit",
                           minimum=0)
    sampled: bool = option(False, "each training batch sees a fresh draw z1 ~ q(z1 | x) of its images (Kingma et "
                           "al.'s code), not the means; validation and test see the means")


def initialized(cfg: SemiSupervisedConfig, net):
    return init_hidden_normal_(net, cfg.init_std) if cfg.init_std else net


def build(cfg: M2Config, image_shape, num_classes=10):
    decoder = mlp([cfg.latent + num_classes, *reversed(cfg.hidden), math.prod(image_shape)], nn.Softplus)
    return M2(initialized(cfg, decoder), cfg.latent, num_classes, cfg.likelihood_module())


def build_m1m2(cfg: M1M2Config, image_shape, num_classes=10):
    """M2 with Gaussian features: image_shape is that of the codes, (latent,); the decoder gives a loc and a raw
    scale per feature."""
    decoder = mlp([cfg.latent + num_classes, *reversed(cfg.hidden), 2 * math.prod(image_shape)], nn.Softplus)
    return M2(initialized(cfg, decoder), cfg.latent, num_classes, diagonal_normal)


def encoder(cfg: SemiSupervisedConfig, image_shape, out_dim, extra_inputs=0):
    return initialized(cfg, mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], nn.Softplus))
