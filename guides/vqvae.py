"""The VQ-VAE's guide (van den Oord et al. 2017, sec. 3.1): the encoder's output z_e(x), a D x H x W map, is
quantized to the nearest code vector at each position, and the guide puts a point mass there,

    q(code | x) = Delta(argmin_k ||z_e(x)_ij - e_k||)
    q(z_q | code) = Delta(e_code)

The two terms of the paper's eq. 3 besides the reconstruction attach here, where z_e is: the codebook term
||sg[z_e] - e||^2 (left out when the codebook follows moving averages instead) and the commitment term
beta ||z_e - sg[e]||^2, sums over the map. They enter as factors of the guide, which add to log q, so the ELBO
subtracts them.
"""
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.options import Options, option
from ppl_vae.pairs import Guide


class VQGuide(nn.Module):
    def __init__(self, encoder: nn.Module, codebook: nn.Module, beta: float = 0.25):
        super().__init__()
        self.encoder = encoder
        self.codebook = codebook
        self.beta = beta

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z_e = self.encoder(x)
            code = self.codebook.nearest(z_e)
            if self.training:
                self.codebook.update(z_e, code)  # before the lookup: the model reads the updated vectors too
            e = self.codebook(code)
            pyro.sample("code", dist.Delta(code, event_dim=2))
            # the straight-through estimator: e in the forward pass (z_e - sg[z_e] is exactly 0), the decoder's
            # gradient copied to z_e in the backward pass
            pyro.sample("z_q", dist.Delta(e.detach() + (z_e - z_e.detach()), event_dim=3))
            pyro.factor("commitment", self.beta * (z_e - e.detach()).pow(2).sum((-3, -2, -1)), has_rsample=True)
            if self.codebook.ema_decay is None:
                pyro.factor("codebook", (z_e.detach() - e).pow(2).sum((-3, -2, -1)), has_rsample=True)


@dataclass
class VQGuideConfig(Options):
    commitment: float = option(0.25, "the weight of the commitment term (the paper's beta, van den Oord et al. 2017, "
                               "sec. 3.2)", minimum=0)


def build(cfg: VQGuideConfig, info):
    """The codebook the model shares, and its mirrored encoder to maps of code vectors (D of the site z_q)."""
    return VQGuide(info.encoder(info.latent("z_q").event_shape[0]), info.share("codebook"), cfg.commitment)


GUIDES = {"vq": Guide("the nearest code, straight-through, with the codebook and commitment terms", build,
                      VQGuideConfig)}
