"""The NVAE-style guide (Vahdat & Kautz 2020, sec. 3): a bottom-up convolutional pass gives a feature map per group,
then the groups are drawn top-down through the model's own `TopDown` path, each relative to its prior (eq. 2):

    p(z_g | z_<g) = Normal(mu, sigma)     (TopDown.prior; mu = 0, sigma = 1 for the top group)
    q(z_g | z_<g, x) = Normal(mu + dmu, sigma * exp(dlogsigma)),   (dmu, dlogsigma) = posteriors[g](features_g, h_g)

so the guide learns only how the data move each prior, and KL(q || p) depends on (dmu, dsigma) and sigma alone.
"""
import pyro
from torch import nn

from ppl_vae.nets import BottomUp, TopDown, concat, images, log_scale_normal
from ppl_vae.pairs import Guide


class NVAEGuide(nn.Module):
    def __init__(self, bottom_up: BottomUp, posteriors: nn.ModuleList, top_down: TopDown):
        super().__init__()
        self.bottom_up = bottom_up
        self.posteriors = posteriors
        self.top_down = top_down  # the model's

    def forward(self, x):
        pyro.module("bottom_up", self.bottom_up)
        pyro.module("posteriors", self.posteriors)
        pyro.module("top_down", self.top_down)
        with pyro.plate("data", x.shape[0], device=x.device):
            h = self.top_down.initial(x.shape[0])
            for group, feature in enumerate(self.bottom_up(x)):
                loc, log_scale = self.top_down.prior(group, h)
                shift, log_stretch = self.posteriors[group](concat(feature, h, dim=-3)).chunk(2, dim=-3)
                z = pyro.sample(f"z{group + 1}", log_scale_normal(loc + shift, log_scale + log_stretch).to_event(3))
                h = self.top_down.absorb(group, h, z)


def build(cfg, info):
    """The model's top-down path, which it shares; its mirrored encoder (a bottom-up pass of as many channels as the
    path, nets.BottomUp); and a posterior head per group, from the group's feature map and h to its latent channels."""
    top_down = info.share("top_down_cells")
    heads = [images(nn.ELU(), nn.Conv2d(2 * top_down.channels, 2 * shape[0], 3, padding=1))
             for shape in top_down.latent_shapes]
    return NVAEGuide(info.encoder(top_down.channels), nn.ModuleList(heads), top_down)


GUIDES = {"nvae": Guide("NVAE's guide: groups drawn top-down through the model's path, each relative to its prior",
                        build)}
