"""The categorical VAE (Jang et al. 2017; Maddison et al. 2017): `latents` categorical variables of `classes` values
each, as one-hot vectors,

    z_i ~ Categorical(1 / classes),  i = 1..latents
    x | z ~ likelihood(decoder(z))

While training, model and guide draw z relaxed (nets.OneHot, one instance shared by both): each z_i ~
RelaxedOneHotCategorical(temperature, probs), a point of the simplex with a reparameterized sample (the
Gumbel-softmax, or Concrete, distribution) that tends to a one-hot vector as the temperature falls. The ELBO trained
is that of the relaxed model, with relaxed densities in both programs, which Maddison et al. (2017, app. C) show is
a bound where mixing a relaxed sample with the discrete KL (Jang et al.'s choice) is not. In eval mode both programs
are the discrete model and guide, so the ELBO and log p(x) that `evaluate` reports are the categorical model's.
"""
import math
from dataclasses import dataclass

import pyro
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import OneHot, mlp
from ppl_vae.options import Options, option
from ppl_vae.pairs import Scheme, Variant
from ppl_vae.train import Training


class CategoricalVAE(nn.Module):
    def __init__(self, decoder: nn.Module, one_hot: OneHot, latents: int, classes: int, likelihood: nn.Module):
        super().__init__()
        self.decoder = decoder
        self.one_hot = one_hot
        self.latents = latents
        self.classes = classes
        self.likelihood = likelihood

    def forward(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", self.one_hot(x.new_zeros(self.latents, self.classes)).to_event(1))  # uniform
            pyro.sample("x", self.likelihood(self.decoder(self.one_hot.decoded(z).flatten(-2))).to_event(1), obs=x)

    def shared(self):
        """The relaxation, one instance for both programs, so that a schedule sets both temperatures at once."""
        return {"one_hot": self.one_hot}


@dataclass
class CategoricalConfig(LikelihoodConfig):
    # Defaults: Jang et al.'s categorical VAE as their code has it (the notebook of github.com/ericjang/gumbel-softmax):
    # 30 variables of 10 classes, 784-512-256 ReLU encoder and its mirror
    variables: int = option(30, "categorical latent variables", minimum=1)
    classes: int = option(10, "values of each categorical latent", minimum=2)
    hidden: list[int] = option([512, 256], "hidden layer sizes of the MLPs (ReLU), encoder side first; the decoder "
                               "mirrors them", minimum=1)
    straight_through: bool = option(False, "the straight-through relaxation: one-hot samples forward, the relaxed "
                                    "gradient backward")


@dataclass
class TemperatureConfig(Options):
    # Jang et al.'s code: the temperature from 1 down to 0.5 as exp(-3e-5 t), updated every 1000 steps (their code
    # also decays the learning rate by 0.9 there; not done here)
    temperature: float = option(1.0, "the relaxation's temperature at the start", above=0)
    min_temperature: float = option(0.5, "the temperature's floor", above=0)
    anneal_rate: float = option(3e-5, "r in temperature = max(floor, start exp(-r t)); 0: fixed", minimum=0)
    anneal_every: int = option(1000, "steps between updates of the temperature", minimum=1)


def build(cfg: CategoricalConfig, data):
    decoder = mlp([cfg.variables * cfg.classes, *reversed(cfg.hidden), math.prod(data.image_shape)], nn.ReLU)
    return CategoricalVAE(decoder, OneHot(straight_through=cfg.straight_through), cfg.variables, cfg.classes,
                          cfg.likelihood_module())


def encoder(cfg: CategoricalConfig, image_shape, out_dim, extra_inputs=0):
    return mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], nn.ReLU)


def temperature(step, start, minimum, rate, every):
    """A relaxation's temperature at SVI step `step`: start * exp(-rate * t), t the step rounded down to a multiple
    of `every`, and never below `minimum` (Jang et al. 2017, sec. 4: tau = max(0.5, exp(-r t)) updated every N
    steps)."""
    return max(minimum, start * math.exp(-rate * (step // every * every)))


def annealed_temperature(cfg: TemperatureConfig, model, guide, data, seed):
    """SVI on the images, the relaxation's temperature (the model's, shared with the guide) set before each step by
    its schedule and logged each epoch."""
    def before_step(step):
        model.one_hot.temperature = temperature(step, cfg.temperature, cfg.min_temperature, cfg.anneal_rate,
                                                cfg.anneal_every)

    return Training(data.batches, validate=lambda model, guide: {"temperature": model.one_hot.temperature},
                    before_step=before_step)


VARIANTS = {
    "categorical": Variant(build, "30 categorical latents of 10 classes, relaxed (Gumbel-softmax) in training with an "
                           "annealed temperature, the categorical model in evaluation (Jang et al. 2017; Maddison et "
                           "al. 2017)", CategoricalConfig, "categorical", encoder,
                           Scheme("annealed-temperature", "the relaxation's temperature lowered step by step "
                                  "(--temperature, --min-temperature, --anneal-rate, --anneal-every) and logged each "
                                  "epoch", annealed_temperature, TemperatureConfig),
                           # the relaxed densities have no closed-form KL. A warm-up of the KL term over the first
                           # 10 000 steps: without it the guide stayed near the prior (KL 0.1 nats) for the first 400
                           # steps on 10 000 images, and after 600 the ELBO was -196 against -154 with one (measured)
                           train={"elbo": "trace", "kl_anneal": 10_000}),
}
