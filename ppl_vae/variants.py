"""The table of variants: a name -> its configuration and the (model, guide) pair built from it.

The only place in ppl_vae/ that knows a variant by name. Each build function takes the variant's config and the
data dimension and returns the model and the guide as torch modules (their parameters are the networks').
"""
from dataclasses import dataclass, field
from typing import Callable

from guides.gaussian import GaussianGuide
from models.vae import VAE
from ppl_vae.nets import mlp


@dataclass
class VAEConfig:
    # Defaults: the IWAE paper's one-stochastic-layer model (Burda et al. 2015, sec. 5): two deterministic layers of
    # 200 tanh units on each side, 50 latent units.
    latent: int = 50
    hidden: list[int] = field(default_factory=lambda: [200, 200])


def build_vae(cfg: VAEConfig, data_dim: int):
    model = VAE(mlp([cfg.latent, *cfg.hidden, data_dim]), cfg.latent)
    guide = GaussianGuide(mlp([data_dim, *reversed(cfg.hidden), 2 * cfg.latent]))
    return model, guide


@dataclass(frozen=True)
class Variant:
    summary: str
    config: type
    build: Callable


VARIANTS = {
    "vae": Variant("Gaussian latent, Bernoulli pixels, mean-field Gaussian guide (Kingma & Welling 2014)",
                   VAEConfig, build_vae),
}
