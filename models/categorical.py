"""The categorical VAE (Jang et al. 2017; Maddison et al. 2017): `latents` categorical variables of `classes` values
each, as one-hot vectors, and Bernoulli pixels,

    z_i ~ Categorical(1 / classes),  i = 1..latents
    x | z ~ Bernoulli(logits = decoder(z))

While training, model and guide draw z relaxed (`OneHot`): each z_i ~ RelaxedOneHotCategorical(temperature, probs),
a point of the simplex with a reparameterized sample (the Gumbel-softmax, or Concrete, distribution) that tends to a
one-hot vector as the temperature falls. The ELBO trained is that of the relaxed model, with relaxed densities in
both programs, which Maddison et al. (2017, app. C) show is a bound where mixing a relaxed sample with the discrete
KL (Jang et al.'s choice) is not. In eval mode both programs are the discrete model and guide, so the ELBO and
log p(x) that `evaluate` reports are the categorical model's.
"""
import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from models.m2 import pixels


class OneHot(nn.Module):
    """The distribution of one-hot latents with the given logits: while training, relaxed at `temperature`; in eval
    mode the categorical itself. One instance serves the model and the guide, so a schedule sets both temperatures
    at once."""

    def __init__(self, temperature=1.0, straight_through=False):
        super().__init__()
        self.temperature = temperature
        self.straight_through = straight_through

    def forward(self, logits):
        # Logits soft-clamped into (-10, 10): the entries of a relaxed sample, exp(-(logit gap + Gumbel gap) / tau),
        # then stay normal float32 numbers, whose logs (the relaxed densities take them) are exact, not 0 and -inf.
        logits = 10 * torch.tanh(logits / 10)
        if not self.training:
            return dist.OneHotCategorical(logits=logits)
        return dist.RelaxedOneHotCategorical(logits.new_tensor(self.temperature), logits=logits)

    def decoded(self, z):
        """What the decoder reads of z: z itself; or, `straight_through`, the one-hot vector of z's largest entry in
        the forward pass and z's gradient in the backward pass (Jang et al. 2017, sec. 2.2). z stays the relaxed
        sample, so the densities are those of the relaxed model. (Pyro's RelaxedOneHotCategoricalStraightThrough
        scores a copy of the sample clamped to [1.2e-7, 1], off the simplex: as the guide grew confident its ELBO
        reached +1e12.)"""
        if not self.straight_through:
            return z
        return F.one_hot(z.argmax(-1), z.shape[-1]).to(z.dtype) + (z - z.detach())


class CategoricalVAE(nn.Module):
    def __init__(self, decoder: nn.Module, one_hot: OneHot, latents: int, classes: int):
        super().__init__()
        self.decoder = decoder
        self.one_hot = one_hot
        self.latents = latents
        self.classes = classes

    def forward(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", self.one_hot(x.new_zeros(self.latents, self.classes)).to_event(1))  # uniform
            pyro.sample("x", pixels(self.decoder(self.one_hot.decoded(z).flatten(-2))).to_event(1), obs=x)
