"""The NVAE-style guide (Vahdat & Kautz 2020, sec. 3): a bottom-up convolutional pass gives a feature map per group,
then the groups are drawn top-down through the model's own `TopDown` path, each relative to its prior (eq. 2):

    p(z_g | z_<g) = Normal(mu, sigma)     (TopDown.prior; mu = 0, sigma = 1 for the top group)
    q(z_g | z_<g, x) = Normal(mu + dmu, sigma * exp(dlogsigma)),   (dmu, dlogsigma) = posteriors[g](features_g, h_g)

so the guide learns only how the data move each prior, and KL(q || p) depends on (dmu, dsigma) and sigma alone.
"""
import pyro
from torch import nn

from ppl_vae.nets import ResidualCell, TopDown, concat, images, log_scale_normal


class BottomUp(nn.Module):
    """x -> one feature map per group, top group first: a strided convolution to half the image, then per scale,
    finest first, `cells` residual cells per group (a feature map after each group's), and a strided convolution to
    the next scale."""

    def __init__(self, groups, channels, cells, image_shape):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.stem = images(nn.Conv2d(1, channels, 4, stride=2, padding=1))
        self.groups = nn.ModuleList(images(*(ResidualCell(channels) for _ in range(cells)))
                                    for _ in range(sum(groups)))
        self.downsamplers = nn.ModuleList(images(nn.Conv2d(channels, channels, 4, stride=2, padding=1))
                                          for _ in groups[1:])
        self.scale_starts = [sum(groups[scale:]) for scale in range(1, len(groups))]  # counted from the bottom

    def forward(self, x):
        d, features = self.stem(x.unflatten(-1, self.image_shape).unsqueeze(-3)), []
        for index, group in enumerate(self.groups):
            if index in self.scale_starts:
                d = self.downsamplers[self.scale_starts.index(index)](d)
            d = group(d)
            features.append(d)
        return features[::-1]


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
    """The model's top-down path, and a bottom-up pass and posterior heads of its sizes (models/nvae.py, NVAEConfig)."""
    m, top_down = info.config, info.model.top_down
    posteriors = nn.ModuleList(images(nn.ELU(), nn.Conv2d(2 * m.width, 2 * m.latent_channels, 3, padding=1))
                               for _ in top_down.latent_shapes)
    return NVAEGuide(BottomUp(m.groups, m.width, m.cells, info.image_shape), posteriors, top_down)
