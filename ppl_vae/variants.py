"""The table of variants: a name -> its configuration and the (model, guide) pair built from it.

The only place in ppl_vae/ that knows a variant by name. Each build function takes the variant's config and the
image shape and returns the model and the guide as torch modules (their parameters are the networks').
"""
import math
from dataclasses import dataclass, field
from typing import Callable

from guides.delta import DeltaGuide
from guides.gaussian import GaussianGuide
from models.vae import VAE
from ppl_vae.nets import Corrupted, conv_decoder, conv_encoder, mlp

NETS = ("mlp", "conv")


@dataclass
class VAEConfig:
    # Defaults: the IWAE paper's one-stochastic-layer model (Burda et al. 2015, sec. 5): two deterministic layers of
    # 200 tanh units on each side, 50 latent units.
    latent: int = 50
    net: str = "mlp"  # mlp: fully connected, tanh; conv: strided convolutions / transposed convolutions, ReLU
    hidden: list[int] = field(default_factory=lambda: [200, 200])  # mlp's hidden layer sizes, encoder side first
    channels: list[int] = field(default_factory=lambda: [32, 64])  # conv's channels, each layer halving the image
    corrupt: str | None = None  # denoising: the encoder sees x corrupted by "mask:P" or "gauss:S" while training


@dataclass
class AEConfig(VAEConfig):
    code_range: float | None = None  # codes squashed into (-R, R)


def networks(cfg: VAEConfig, image_shape, code_dim):
    """The encoder (flat image -> code_dim numbers) and the decoder (latent -> pixel logits) that cfg names."""
    if cfg.net == "mlp":
        data_dim = math.prod(image_shape)
        encoder = mlp([data_dim, *reversed(cfg.hidden), code_dim])
        decoder = mlp([cfg.latent, *cfg.hidden, data_dim])
    elif cfg.net == "conv":
        encoder = conv_encoder(image_shape, cfg.channels, code_dim)
        decoder = conv_decoder(cfg.latent, cfg.channels, image_shape)
    else:
        raise ValueError(f"unknown net {cfg.net!r}; choose one of {NETS}")
    if cfg.corrupt:
        encoder = Corrupted(encoder, cfg.corrupt)
    return encoder, decoder


def build_vae(cfg: VAEConfig, image_shape):
    encoder, decoder = networks(cfg, image_shape, 2 * cfg.latent)
    return VAE(decoder, cfg.latent), GaussianGuide(encoder)


def build_ae(cfg: AEConfig, image_shape):
    encoder, decoder = networks(cfg, image_shape, cfg.latent)
    return VAE(decoder, cfg.latent), DeltaGuide(encoder, cfg.code_range)


@dataclass(frozen=True)
class Variant:
    summary: str
    config: type
    build: Callable


VARIANTS = {
    "vae": Variant("Gaussian latent, Bernoulli pixels, mean-field Gaussian guide (Kingma & Welling 2014)",
                   VAEConfig, build_vae),
    "ae": Variant("the VAE's model with a point-mass guide: an autoencoder (MAP codes; --prior none: reconstruction "
                  "only)", AEConfig, build_ae),
}
