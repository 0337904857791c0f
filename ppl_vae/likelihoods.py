"""The likelihood p(x | z) of pixels given the decoder's output, one per pixel (the model adds `.to_event(1)`):

  bernoulli              Bernoulli(logits = out): a coin per pixel, for binary images. On grey intensities it is
                         not a density (its log-probabilities are those of soft targets, as in Pyro's VAE example)
  continuous-bernoulli   ContinuousBernoulli(logits = out) (Loaiza-Ganem & Cunningham 2019): the Bernoulli's
                         density renormalized over [0, 1], a true likelihood of grey intensities
  gaussian               Normal(sigmoid(out), c): log p = -||x - f(z)||^2 / 2c^2 + const (the squared error of an
                         autoencoder), with the scale c fixed (--pixel-scale C) or learned (one number, --pixel-scale 0)
"""
from dataclasses import dataclass

import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.options import Options, option

LIKELIHOODS = ("bernoulli", "continuous-bernoulli", "gaussian")


class Likelihood(nn.Module):
    def __init__(self, kind="bernoulli", scale=0.0):
        super().__init__()
        self.kind = kind
        if kind == "gaussian":
            if scale:
                self.register_buffer("log_scale", torch.tensor(float(scale)).log())
            else:
                self.log_scale = nn.Parameter(torch.zeros(()))

    def forward(self, out):
        # validate_args=False for the Bernoulli: grey images are scored as soft targets (module docstring)
        if self.kind == "bernoulli":
            return dist.Bernoulli(logits=out, validate_args=False)
        if self.kind == "continuous-bernoulli":
            # ContinuousBernoulli's support is the closed interval; its log-normalizer is computed stably near
            # logits 0 by torch's Taylor expansion
            return dist.ContinuousBernoulli(logits=out)
        return dist.Normal(torch.sigmoid(out), self.log_scale.exp())


@dataclass
class LikelihoodConfig(Options):
    """The likelihood options of every image model (its config inherits them)."""
    likelihood: str = option("bernoulli", "p(x | z) per pixel: bernoulli (binary images), continuous-bernoulli or "
                             "gaussian (densities of grey intensities, e.g. with --binarize none)", choices=LIKELIHOODS)
    pixel_scale: float = option(0.0, "gaussian likelihood: the pixels' standard deviation c; 0: learned", minimum=0)

    def likelihood_module(self):
        return Likelihood(self.likelihood, self.pixel_scale)
