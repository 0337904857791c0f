"""A small NVAE-style hierarchy for images (Vahdat & Kautz 2020, sec. 3): G groups of convolutional latents drawn
top-down, a deterministic feature map h carrying what was drawn from each group to the next (`TopDown`):

    h_1 = a learned feature map at the coarsest scale
    z_g ~ Normal(top_down.prior(g, h_g))                       g = 1 (the top), ..., G; N(0, I) for g = 1
    h_(g+1) = top_down.absorb(g, h_g, z_g)      z_g merged into h by residual cells, upsampled where its scale ends
    x ~ likelihood(top_down.pixels(h_(G+1)))

Sites z1 (top) to zG, in NVAE's order; each z_g holds latent channels at its scale, event shape (C, H, W).
"""
from dataclasses import dataclass

import pyro
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import BottomUp, TopDown, log_scale_normal
from ppl_vae.options import option
from ppl_vae.pairs import Variant


class NVAE(nn.Module):
    def __init__(self, top_down: TopDown, likelihood: nn.Module):
        super().__init__()
        self.top_down = top_down
        self.likelihood = likelihood

    def forward(self, x):
        pyro.module("top_down", self.top_down)
        with pyro.plate("data", x.shape[0], device=x.device):
            h = self.top_down.initial(x.shape[0])
            for group in range(len(self.top_down.latent_shapes)):
                z = pyro.sample(f"z{group + 1}", log_scale_normal(*self.top_down.prior(group, h)).to_event(3))
                h = self.top_down.absorb(group, h, z)
            pyro.sample("x", self.likelihood(self.top_down.pixels(h)).to_event(1), obs=x)

    def shared(self):
        """The generative top-down path, lent to the guide, which draws the groups from the same priors."""
        return {"top_down_cells": self.top_down}


@dataclass
class NVAEConfig(LikelihoodConfig):
    # Defaults: sized for a CPU (an epoch of MNIST in about a minute on 2 cores); NVAE's MNIST model is far larger
    groups: list[int] = option([2, 2], "groups of latents per scale, coarsest first (7x7, 14x14)", minimum=1)
    width: int = option(32, "channels of the feature maps", minimum=1)
    latent_channels: int = option(4, "channels of each group's latent map", minimum=1)
    cells: int = option(1, "residual cells per group, in the guide's bottom-up pass and in the top-down path",
                        minimum=1)


def build(cfg: NVAEConfig, data):
    return NVAE(TopDown(cfg.groups, cfg.width, cfg.latent_channels, cfg.cells, data.image_shape),
                cfg.likelihood_module())


def encoder(cfg: NVAEConfig, image_shape, out_dim, extra_inputs=0):
    """The mirror of the top-down path: a bottom-up pass giving a feature map of out_dim channels per group."""
    if extra_inputs:
        raise ValueError("NVAE's bottom-up pass reads images alone, not extra inputs")
    return BottomUp(cfg.groups, out_dim, cfg.cells, image_shape)


VARIANTS = {
    "nvae": Variant(build, "a small NVAE: groups of convolutional latents drawn top-down through residual cells, the "
                    "guide relative to the prior (Vahdat & Kautz 2020)", NVAEConfig, "nvae", encoder,
                    # warm-up of the KL term over the first 20 epochs of 50 000 images (NVAE: the first 30% of training)
                    train={"kl_anneal": 10_000}),
}
