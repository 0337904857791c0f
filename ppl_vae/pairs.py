"""What a guide's builder is told of the model it is built for, and the check that a model and a guide fit, made
from their traces before any training.

A guide depends on a model only through its latent sites (names, shapes, supports): `ModelInfo.latent` reads them
from a trace of the model's prior, and `check_pair` compares the two programs' traces on a real batch.
"""
import math
from dataclasses import dataclass
from typing import Callable

import torch
from pyro import poutine
from pyro.poutine.util import site_is_subsample
from torch import nn

from ppl_vae.objectives import OBJECTIVES


@dataclass
class ModelInfo:
    model: nn.Module
    config: object  # the model's config dataclass
    image_shape: tuple
    # (out_dim, extra_inputs=0) -> a network from [flat image, extra inputs] to out_dim numbers that mirrors the
    # model's decoder (the model module's `encoder`), for the guides that need an encoder
    encoder: Callable

    def latent(self, site="z"):
        """The distribution at the model's latent site `site`, from a trace of its prior on one blank image (a model
        of images alone), or on what the model's `blank(1)` gives (a model of other data: sentences)."""
        blank = getattr(self.model, "blank", None)
        x = blank(1) if blank else torch.zeros(1, math.prod(self.image_shape), device=device_of(self.model))
        try:
            with torch.no_grad(), poutine.block():
                trace = poutine.trace(self.model).get_trace(x)
        except TypeError as e:
            raise ValueError(f"this guide is for models of images alone; the model takes more ({e})") from None
        latents = latent_sites(trace)
        if site not in latents:
            raise ValueError(f"this guide infers a latent site {site!r}; the model's latent sites are "
                             f"{', '.join(latents) or 'none'}")
        return latents[site]


def device_of(module):
    return next((p.device for p in module.parameters()), torch.device("cpu"))


def latent_sites(trace):
    """name -> distribution of the unobserved sample sites of a trace."""
    return {name: site["fn"] for name, site in trace.nodes.items()
            if site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site)}


def site_summary(fn):
    """A latent site as a line names it: its event shape and support."""
    return f"event shape {tuple(fn.event_shape)}, support {fn.support}"


def check_pair(model, guide, batch, objectives=()):
    """One clear line (a ValueError) when the guide does not fit the model on `batch` (a tuple of the programs'
    arguments): every latent site of the guide must be a latent site of the model with the same event shape and
    support (the guide's draws lie in the model's support), and every latent site of the model must be drawn by the
    guide, except those the model enumerates; and the pair must be one that each of the named `objectives` can train
    (what its entry needs)."""
    with torch.no_grad(), poutine.block():
        guide_trace = poutine.trace(guide).get_trace(*batch)
        model_trace = poutine.trace(model).get_trace(*batch)  # from its prior: a mismatched guide's values may not fit
    guide_sites, model_sites = latent_sites(guide_trace), latent_sites(model_trace)
    model_only = [name for name in model_sites if name not in guide_sites
                  and model_trace.nodes[name]["infer"].get("enumerate") != "parallel"]
    guide_only = [name for name in guide_sites if name not in model_trace.nodes]
    if model_only or guide_only:
        raise ValueError(f"the guide does not fit the model: the model's latent sites are "
                         f"{', '.join(model_sites) or 'none'}, the guide's {', '.join(guide_sites) or 'none'}")
    for name, fn in guide_sites.items():
        other, value = model_trace.nodes[name]["fn"], guide_trace.nodes[name]["value"]
        # the support is checked on the guide's draw: a point mass (Delta) is a density on the reals, whatever it holds
        if fn.event_shape != other.event_shape or not other.support.check(value).all():
            raise ValueError(f"the guide does not fit the model at site {name!r}: the model's has {site_summary(other)}, "
                             f"the guide's {site_summary(fn)}" + ("" if fn.event_shape != other.event_shape else
                                                              ", and its draws lie outside the model's support"))
    for name in objectives:
        why = OBJECTIVES[name].needs(guide_trace) if OBJECTIVES[name].needs else None
        if why:
            raise ValueError(why)
