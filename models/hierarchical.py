"""A hierarchy of Gaussian latent layers, generated from the top (the IWAE paper's two-layer model, Burda et al.
2015 sec. 5; the Ladder VAE's, Sønderby et al. 2016 eq. 1-3), with L = len(top_down) + 1 layers:

    z_L ~ Normal(0, I)                                      the top layer, `top_dim` numbers
    z_l | z_(l+1) ~ Normal(top_down[l-1](z_(l+1)))         l = L-1, ..., 1: loc and scale (nets.diagonal_normal)
    x | z_1 ~ likelihood(decoder(z_1))

The sites are named z1 (bottom) to zL (top).
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import diagonal_normal, mlp
from ppl_vae.options import option
from ppl_vae.pairs import Variant


class HierarchicalVAE(nn.Module):
    def __init__(self, top_down: nn.ModuleList, decoder: nn.Module, top_dim: int, likelihood: nn.Module):
        super().__init__()
        self.top_down = top_down
        self.decoder = decoder
        self.top_dim = top_dim
        self.likelihood = likelihood

    def forward(self, x):
        pyro.module("top_down", self.top_down)
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample(f"z{len(self.top_down) + 1}", dist.Normal(x.new_zeros(self.top_dim), 1.0).to_event(1))
            for layer in reversed(range(1, len(self.top_down) + 1)):
                z = pyro.sample(f"z{layer}", diagonal_normal(self.top_down[layer - 1](z)).to_event(1))
            pyro.sample("x", self.likelihood(self.decoder(z)).to_event(1), obs=x)

    def shared(self):
        """The generative top-down path, lent to the Ladder VAE's guide (guides/ladder.py)."""
        return {"top_down": self.top_down}


@dataclass
class TwoLayerConfig(LikelihoodConfig):
    # Defaults: the IWAE paper's two-stochastic-layer network (Burda et al. 2015, sec. 5): x - 200 - 200 - z1 (100)
    # - 100 - 100 - z2 (50), tanh, the same sizes on the generative side.
    latents: list[int] = option([100, 50], "sizes of the stochastic layers, bottom first (z1 z2 ...)", minimum=1)
    lower_hidden: list[int] = option([200, 200], "hidden layers between x and z1, encoder side first", minimum=1)
    upper_hidden: list[int] = option([100, 100], "hidden layers between z1 and z2, encoder side first", minimum=1)


def build_two_layer(cfg: TwoLayerConfig, data):
    if len(cfg.latents) != 2:
        raise ValueError(f"--latents takes the sizes of z1 and z2, got {cfg.latents}")
    (z1, z2), lower, upper = cfg.latents, cfg.lower_hidden, cfg.upper_hidden
    return HierarchicalVAE(nn.ModuleList([mlp([z2, *reversed(upper), 2 * z1])]),
                           mlp([z1, *reversed(lower), math.prod(data.image_shape)]), z2, cfg.likelihood_module())


def two_layer_encoder(cfg: TwoLayerConfig, image_shape, out_dim, extra_inputs=0, layer=1):
    """The mirror of layer `layer`'s decoder: from the layer below (x for z1, z1 for z2) to out_dim numbers."""
    if layer == 1:
        return mlp([math.prod(image_shape) + extra_inputs, *cfg.lower_hidden, out_dim])
    return mlp([cfg.latents[0] + extra_inputs, *cfg.upper_hidden, out_dim])


@dataclass
class LadderConfig(LikelihoodConfig):
    # Defaults: the Ladder VAE's MNIST network (Sønderby et al. 2016, sec. 3)
    latents: list[int] = option([64, 32, 16, 8, 4], "sizes of the stochastic layers, bottom first (z1 z2 ...)",
                                minimum=1)
    hidden: list[int] = option([512, 256, 128, 64, 32], "the deterministic units of each stochastic layer, x -> z1 "
                               "first", minimum=1)
    depth: int = option(2, "deterministic layers in each of the Ladder VAE's MLPs", minimum=1)
    batch_norm: bool = option(True, "no batch normalization in the deterministic layers", flag="--no-batch-norm")

    def layer(self, sizes, **kwargs):
        """A deterministic MLP of the ladder: leaky ReLU, batch-normalized unless --no-batch-norm."""
        return mlp(sizes, activation=nn.LeakyReLU, batch_norm=self.batch_norm, **kwargs)


def build_ladder(cfg: LadderConfig, data):
    """Layer l's deterministic units, cfg.hidden[l-1] of them, sit below z_l: top-down, z_l -> d_l -> p(z_(l-1) |
    z_l) (z_0 = x); the guide's bottom-up pass has the same sizes (ladder_encoder)."""
    if len(cfg.hidden) != len(cfg.latents):
        raise ValueError(f"--hidden takes one size per stochastic layer ({len(cfg.latents)} for --latents "
                         f"{' '.join(map(str, cfg.latents))}), got {cfg.hidden}")
    top_down = nn.ModuleList(cfg.layer([z, *[h] * cfg.depth, 2 * n_out])
                             for z, h, n_out in zip(cfg.latents[1:], cfg.hidden[1:], cfg.latents[:-1]))
    decoder = cfg.layer([cfg.latents[0], *[cfg.hidden[0]] * cfg.depth, math.prod(data.image_shape)])
    return HierarchicalVAE(top_down, decoder, cfg.latents[-1], cfg.likelihood_module())


def ladder_encoder(cfg: LadderConfig, image_shape, out_dim, extra_inputs=0, ladder_layer=1):
    """The mirror of layer l = `ladder_layer` of the ladder: its bottom-up deterministic units d_l (from d_(l-1), x
    for l = 1), then a linear head to out_dim numbers; the Ladder VAE's guide runs the two apart. (Not the layer
    encoders of bottom-up guides, which read z_(l-1): hence a keyword of its own.)"""
    n_in = math.prod(image_shape) + extra_inputs if ladder_layer == 1 else cfg.hidden[ladder_layer - 2]
    hidden = cfg.hidden[ladder_layer - 1]
    return nn.Sequential(cfg.layer([n_in, *[hidden] * cfg.depth], activate_last=True), nn.Linear(hidden, out_dim))


VARIANTS = {
    "vae2": Variant(build_two_layer, "two stochastic layers, z2 -> z1 -> x, with the bottom-up guide q(z1 | x) "
                    "q(z2 | z1) (the IWAE paper's)", TwoLayerConfig, "bottom-up", two_layer_encoder,
                    # the guide is not mean-field (z2 depends on z1): analytic KLs per site would be biased
                    train={"elbo": "trace"}),
    "lvae": Variant(build_ladder, "Ladder VAE: the same hierarchy of Gaussian layers, z_L -> ... -> z1 -> x, with a "
                    "top-down guide merging bottom-up and generative Gaussians by precision (Sønderby et al. 2016)",
                    LadderConfig, "ladder", ladder_encoder,
                    # warm-up of the KL term over the first 20 epochs of 50 000 images (the paper's: the first 10%
                    # of training); guide and model run top-down in the same order, so the analytic KL of each layer
                    # given the layer above (TraceMeanField_ELBO) is unbiased
                    train={"kl_anneal": 10_000}),
}
