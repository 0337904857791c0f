"""The point-mass guide: q(z | x) = Delta(z; encoder(x)).

With the VAE's model unchanged it makes an autoencoder. log q is 0 at the code, so the ELBO becomes
log p(x | z) + log p(z) at z = encoder(x): maximum a posteriori codes with the prior as a regularizer of the code
(Goodfellow et al. 2016, sec. 14.2.1); with the model's latent sites weighted 0 (`--prior none`) it is the
reconstruction alone, the plain autoencoder. A point mass has no density, so this guide gives no bound on log p(x).

`code_range` R squashes the codes into (-R, R) by R tanh(c / R), which keeps the slope 1 at 0.
"""
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.guides.gaussian import EncoderConfig
from ppl_vae.options import option
from ppl_vae.pairs import Guide


class DeltaGuide(nn.Module):
    def __init__(self, encoder: nn.Module, code_range: float | None = None):
        super().__init__()
        self.encoder = encoder
        self.code_range = code_range

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            code = self.encoder(x)
            if self.code_range is not None:
                code = self.code_range * torch.tanh(code / self.code_range)
            pyro.sample("z", dist.Delta(code, event_dim=1))


@dataclass
class DeltaConfig(EncoderConfig):
    code_range: float | None = option(None, "codes squashed into (-R, R) by R tanh(c / R)", above=0)


def build(cfg: DeltaConfig, info):
    return DeltaGuide(cfg.encoder(info, info.latent("z").event_shape[0]), cfg.code_range)


GUIDES = {"delta": Guide("a point mass at the encoder's code: the model becomes an autoencoder (MAP codes)", build,
                         DeltaConfig)}
