"""The class-conditional Gaussian guide of the CVAE (Sohn et al. 2015) and of M2 (Kingma et al. 2014):

    q(z | x, y) = Normal(loc(x, y), diag(scale(x, y)^2)),  loc, scale from one encoder of [x, one-hot y]
"""
import pyro
from torch import nn

from ppl_vae.nets import concat, diagonal_normal
from ppl_vae.pairs import Guide


def sample_z(encoder, x, y):
    """z ~ q(z | x, y), inside the caller's data plate; y may carry enumeration dims on the left."""
    return pyro.sample("z", diagonal_normal(encoder(concat(x, y))).to_event(1))


class ConditionalGuide(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x, y):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            sample_z(self.encoder, x, y)


def build(cfg, info):
    """For a model given the labels and with a latent vector z: the encoder reads [x, one-hot y]."""
    if not info.num_classes:
        raise ValueError("the conditional guide reads the labels; this dataset has none")
    return ConditionalGuide(info.encoder(2 * info.latent("z").event_shape[0], extra_inputs=info.num_classes))


GUIDES = {"conditional": Guide("q(z | x, y) for a model with given classes", build)}
