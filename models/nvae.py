"""A small NVAE-style hierarchy for images (Vahdat & Kautz 2020, sec. 3): G groups of convolutional latents drawn
top-down, a deterministic feature map h carrying what was drawn from each group to the next (`TopDown`):

    h_1 = a learned feature map at the coarsest scale
    z_g ~ Normal(top_down.prior(g, h_g))                       g = 1 (the top), ..., G; N(0, I) for g = 1
    h_(g+1) = top_down.absorb(g, h_g, z_g)      z_g merged into h by residual cells, upsampled where its scale ends
    x ~ Bernoulli(logits = top_down.pixels(h_(G+1)))

Sites z1 (top) to zG, in NVAE's order; each z_g holds latent channels at its scale, event shape (C, H, W).
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.nets import FlatBatch, ResidualCell, check_halvable, concat, log_scale_normal


def images(*layers):
    """A network of images (N, C, H, W) applied to (..., C, H, W)."""
    return FlatBatch(nn.Sequential(*layers), event_dims=3)


class TopDown(nn.Module):
    """The generative top-down path, shared with the guide, which draws the groups from the same priors.
    `groups`: groups of latents per scale, coarsest first; each scale doubles the height and width of the one before,
    and the finest is half the image's."""

    def __init__(self, groups, channels, latent_channels, cells, image_shape):
        super().__init__()
        height, width = check_halvable(image_shape, len(groups))
        self.start = nn.Parameter(torch.zeros(channels, height, width))
        self.latent_shapes = [(latent_channels, height << scale, width << scale)
                              for scale, count in enumerate(groups) for _ in range(count)]
        self.scale_ends = [sum(groups[: scale + 1]) - 1 for scale in range(len(groups))]
        self.priors = nn.ModuleList(images(nn.ELU(), nn.Conv2d(channels, 2 * latent_channels, 3, padding=1))
                                    for _ in self.latent_shapes[1:])
        self.absorbers = nn.ModuleList(
            images(nn.Conv2d(channels + latent_channels, channels, 1), *(ResidualCell(channels) for _ in range(cells)))
            for _ in self.latent_shapes)
        self.upsamplers = nn.ModuleList(images(nn.Upsample(scale_factor=2), nn.Conv2d(channels, channels, 3, padding=1))
                                        for _ in groups[1:])
        self.head = images(nn.ELU(), nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1))

    def initial(self, batch_size):
        return self.start.expand(batch_size, *self.start.shape)

    def prior(self, group, h):
        """(loc, log scale) of p(z_group | z_<group): 0 and 0 at the top, else from h."""
        if group == 0:
            zeros = h.new_zeros(*h.shape[:-3], *self.latent_shapes[0])
            return zeros, zeros
        return self.priors[group - 1](h).chunk(2, dim=-3)

    def absorb(self, group, h, z):
        h = self.absorbers[group](concat(h, z, dim=-3))
        if group in self.scale_ends[:-1]:
            h = self.upsamplers[self.scale_ends.index(group)](h)
        return h

    def pixels(self, h):
        return self.head(h).flatten(-3)


class NVAE(nn.Module):
    def __init__(self, top_down: TopDown):
        super().__init__()
        self.top_down = top_down

    def forward(self, x):
        pyro.module("top_down", self.top_down)
        with pyro.plate("data", x.shape[0], device=x.device):
            h = self.top_down.initial(x.shape[0])
            for group in range(len(self.top_down.latent_shapes)):
                z = pyro.sample(f"z{group + 1}", log_scale_normal(*self.top_down.prior(group, h)).to_event(3))
                h = self.top_down.absorb(group, h, z)
            pixels = dist.Bernoulli(logits=self.top_down.pixels(h), validate_args=False)  # grey x: soft targets
            pyro.sample("x", pixels.to_event(1), obs=x)
