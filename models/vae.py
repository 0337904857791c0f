"""The VAE's generative program (Kingma & Welling 2014):

    z ~ Normal(0, I)                        latent code, `latent_dim` numbers
    x | z ~ likelihood(decoder(z))          one factor per pixel: Bernoulli(logits) by default (ppl_vae/likelihoods.py)
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.likelihoods import Likelihood, LikelihoodConfig
from ppl_vae.nets import conv_decoder, conv_encoder, mlp
from ppl_vae.options import option
from ppl_vae.pairs import Variant

NETS = ("mlp", "conv")
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class VAE(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, likelihood: nn.Module = None):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.likelihood = likelihood or Likelihood()

    def forward(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.latent_dim), 1.0).to_event(1))
            pyro.sample("x", self.likelihood(self.decoder(z)).to_event(1), obs=x)


@dataclass
class VAEConfig(LikelihoodConfig):
    # Defaults: the IWAE paper's one-stochastic-layer model (Burda et al. 2015, sec. 5): two deterministic layers of
    # 200 tanh units on each side, 50 latent units.
    latent: int = option(50, "latent dimension", minimum=1)
    net: str = option("mlp", "encoder and decoder: fully connected (tanh), or strided (transposed) convolutions (ReLU)",
                      choices=NETS)
    hidden: list[int] = option([200, 200], "hidden layer sizes of the MLPs (--net mlp), encoder side first; the "
                               "decoder mirrors them", minimum=1)
    decoder_hidden: list[int] = option([], "the decoder's hidden layer sizes, z side first, if other than --hidden "
                                       "mirrored (--net mlp)", minimum=1)
    encoder_activation: str = option("tanh", "the encoder's activation (--net mlp); the decoder's is tanh. Chen et "
                                     "al. (2018) encode with relu", choices=tuple(ACTIVATIONS))
    channels: list[int] = option([32, 64], "channels of the convolutions, each halving the image (--net conv), "
                                 "encoder side first", minimum=1)

    def __post_init__(self):
        super().__post_init__()
        if self.net != "mlp" and (self.decoder_hidden or self.encoder_activation != "tanh"):
            raise ValueError(f"--decoder-hidden and --encoder-activation shape the MLPs; --net {self.net} has none")


def build(cfg: VAEConfig, data):
    if cfg.net == "mlp":
        decoder = mlp([cfg.latent, *(cfg.decoder_hidden or reversed(cfg.hidden)), math.prod(data.image_shape)])
    else:
        decoder = conv_decoder(cfg.latent, cfg.channels, data.image_shape)
    return VAE(decoder, cfg.latent, cfg.likelihood_module())


def encoder(cfg: VAEConfig, image_shape, out_dim, extra_inputs=0):
    """The encoder that mirrors the decoder: [flat image, `extra_inputs` numbers] -> out_dim numbers (a guide's
    parameters), what the guides that need one build (pairs.ModelInfo.encoder)."""
    if cfg.net == "mlp":
        return mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], ACTIVATIONS[cfg.encoder_activation])
    if extra_inputs:
        raise ValueError("--net conv: the convolutional encoder reads images alone, not extra inputs")
    return conv_encoder(image_shape, cfg.channels, out_dim)


VARIANTS = {
    "vae": Variant(build, "Gaussian latent, Bernoulli pixels, mean-field Gaussian guide (Kingma & Welling 2014)",
                   VAEConfig, "gaussian", encoder),
    "ae": Variant(build, "the VAE's model with a point-mass guide: an autoencoder (MAP codes; --prior none: "
                  "reconstruction only)", VAEConfig, "delta", encoder),
}
