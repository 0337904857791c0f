"""The amortized mean-field Gaussian guide of the VAE:

    q(z | x) = Normal(z; loc(x), diag(scale(x)^2)),  loc, scale from one encoder network

The encoder outputs 2 * latent_dim numbers: the loc, and a pre-activation made positive by softplus
(nets.diagonal_normal).
"""
from dataclasses import dataclass

import pyro
from torch import nn

from ppl_vae.nets import Corrupted, diagonal_normal
from ppl_vae.options import Options, option
from ppl_vae.pairs import Guide


class GaussianGuide(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("z", diagonal_normal(self.encoder(x)).to_event(1))


@dataclass
class EncoderConfig(Options):
    """The options of every guide that encodes an image into the parameters of q(z | x)."""
    corrupt: str | None = option(None, "denoising: the encoder sees x corrupted while training, mask:P (each pixel "
                                 "zeroed with probability P) or gauss:S (Normal noise of sd S); the model scores the "
                                 "clean x")

    def encoder(self, info, out_dim):
        """The model's mirrored encoder to out_dim numbers, corrupting its input while training if asked."""
        encoder = info.encoder(out_dim)
        return Corrupted(encoder, self.corrupt) if self.corrupt else encoder


def build(cfg: EncoderConfig, info):
    return GaussianGuide(cfg.encoder(info, 2 * info.latent("z").event_shape[0]))


GUIDES = {"gaussian": Guide("mean-field Gaussian q(z | x) from an encoder", build, EncoderConfig)}
