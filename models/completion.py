"""Image completion as conditional generation (Sohn et al. 2015, sec. 4.2; the task of Pyro's CVAE tutorial): some
quadrants of a digit are seen, the others are to be drawn. Both programs take the whole image x and score only its
hidden pixels, so log p(x) of the evaluator is the conditional log-likelihood log p(x_hidden | x_seen).

CVAE:      z | x_seen ~ Normal(prior_net(x_seen))             a learned, conditional prior
           x_hidden | z, x_seen ~ likelihood(decoder(z, x_seen))
Baseline:  x_hidden | x_seen ~ likelihood(net(x_seen))        a deterministic network, nothing latent

The networks see x_seen as the image with its hidden pixels set to -1, as the tutorial does. The model's boolean
`seen` buffer declares which pixels are seen: a run of it pictures completions rather than samples.
"""
import math
from dataclasses import dataclass

import pyro
import torch
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import concat, diagonal_normal, mlp
from ppl_vae.options import option
from ppl_vae.pairs import Variant
from ppl_vae.schemes import EARLY_STOPPING

# the quadrants seen for 1, 2 and 3 of them: bottom-left; the left half; all but bottom-right (Pyro's tutorial)
SEEN = {1: ["bottom-left"], 2: ["top-left", "bottom-left"], 3: ["top-left", "top-right", "bottom-left"]}


def seen_mask(image_shape, quadrants):
    """A flat boolean mask of the pixels seen when `quadrants` (1, 2 or 3) quadrants are given."""
    if quadrants not in SEEN:
        raise ValueError(f"quadrants seen must be 1, 2 or 3, got {quadrants}")
    h, w = image_shape
    mask = torch.zeros(h, w, dtype=torch.bool)
    for quadrant in SEEN[quadrants]:
        rows = slice(h // 2, h) if quadrant.startswith("bottom") else slice(0, h // 2)
        cols = slice(w // 2, w) if quadrant.endswith("right") else slice(0, w // 2)
        mask[rows, cols] = True
    return mask.flatten()


class Completion(nn.Module):
    """What the two programs share: the mask, the seen part as the networks' input, the likelihood of the rest."""

    def __init__(self, image_shape, quadrants, likelihood: nn.Module):
        super().__init__()
        self.register_buffer("seen", seen_mask(image_shape, quadrants))
        self.likelihood = likelihood

    def seen_part(self, x):
        return x.masked_fill(~self.seen, -1.0)

    def hidden_pixels(self, out):
        return self.likelihood(out).mask(~self.seen).to_event(1)


class CompletionCVAE(Completion):
    def __init__(self, prior_net: nn.Module, decoder: nn.Module, image_shape, quadrants, likelihood: nn.Module):
        super().__init__(image_shape, quadrants, likelihood)
        self.prior_net = prior_net
        self.decoder = decoder

    def forward(self, x):
        pyro.module("prior_net", self.prior_net)
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            seen = self.seen_part(x)
            z = pyro.sample("z", diagonal_normal(self.prior_net(seen)).to_event(1))
            pyro.sample("x", self.hidden_pixels(self.decoder(concat(z, seen))), obs=x)


class CompletionBaseline(Completion):
    def __init__(self, net: nn.Module, image_shape, quadrants, likelihood: nn.Module):
        super().__init__(image_shape, quadrants, likelihood)
        self.net = net

    def forward(self, x):
        pyro.module("net", self.net)
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("x", self.hidden_pixels(self.net(self.seen_part(x))), obs=x)


@dataclass
class BaselineConfig(LikelihoodConfig):
    quadrants: int = option(1, "image completion: quadrants seen, 1 (bottom-left), 2 (left half) or 3 (all but "
                            "bottom-right)", choices=sorted(SEEN))
    hidden: list[int] = option([500, 500], "hidden layer sizes of the MLPs (ReLU)", minimum=1)


@dataclass
class CompletionConfig(BaselineConfig):
    # Defaults: Pyro's CVAE tutorial, 784-500-500 ReLU networks and 200 latent units.
    latent: int = option(200, "latent dimension", minimum=1)


def build(cfg: CompletionConfig, data):
    data_dim = math.prod(data.image_shape)
    prior_net = mlp([data_dim, *cfg.hidden, 2 * cfg.latent], nn.ReLU)
    decoder = mlp([cfg.latent + data_dim, *cfg.hidden, data_dim], nn.ReLU)
    return CompletionCVAE(prior_net, decoder, data.image_shape, cfg.quadrants, cfg.likelihood_module())


def build_baseline(cfg: BaselineConfig, data):
    data_dim = math.prod(data.image_shape)
    return CompletionBaseline(mlp([data_dim, *cfg.hidden, data_dim], nn.ReLU), data.image_shape, cfg.quadrants,
                              cfg.likelihood_module())


def encoder(cfg: CompletionConfig, image_shape, out_dim, extra_inputs=0):
    """q(z | x) sees the whole image."""
    return mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], nn.ReLU)


VARIANTS = {
    "completion": Variant(build, "image completion: the hidden quadrants drawn from p(x_hidden | z, x_seen), z from a "
                          "prior conditioned on the seen ones (Sohn et al. 2015)", CompletionConfig, "gaussian",
                          encoder, EARLY_STOPPING),
    "completion-nn": Variant(build_baseline, "image completion by a deterministic network, the CVAE's baseline",
                             BaselineConfig, "none", encoder, EARLY_STOPPING),
}
