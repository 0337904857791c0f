"""A normalizing-flow guide: the mean-field Gaussian pushed through inverse autoregressive flows conditioned on the
image (Kingma et al. 2016, sec. 4):

    z_0 ~ Normal(loc(x), diag(scale(x)^2)),   h = context(x)               one encoder gives loc, raw scale and h
    z_t = IAF_t(z_(t-1); h)                    t = 1..flows: affine, each unit's shift and scale an autoregressive
                                               function of the units before it and of h (MADE networks)
    log q(z_T | x) = log q(z_0 | x) - sum_t log |det dz_t / dz_(t-1)|

Pyro's `conditional_affine_autoregressive` transforms do the flow; a reversal of the units between steps lets every
unit depend on every other over two steps. The transformed distribution caches each draw's inverse, so scoring the
guide's own draws costs no inversion.
"""
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
from pyro.distributions.transforms import Permute, conditional_affine_autoregressive
import torch
from torch import nn

from ppl_vae.guides.gaussian import EncoderConfig
from ppl_vae.nets import diagonal_normal
from ppl_vae.options import option
from ppl_vae.pairs import Guide


class FlowGuide(nn.Module):
    def __init__(self, encoder: nn.Module, latent_dim: int, context_dim: int, flows: int, hidden: list[int]):
        super().__init__()
        self.encoder = encoder
        self.latent_dim = latent_dim
        self.flows = nn.ModuleList(conditional_affine_autoregressive(latent_dim, context_dim, hidden_dims=hidden)
                                   for _ in range(flows))
        self.register_buffer("reversal", torch.arange(latent_dim - 1, -1, -1), persistent=False)

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        pyro.module("flows", self.flows)
        with pyro.plate("data", x.shape[0], device=x.device):
            params = self.encoder(x)
            base = diagonal_normal(params[..., : 2 * self.latent_dim]).to_event(1)
            context = params[..., 2 * self.latent_dim:]
            steps = []
            for flow in self.flows:
                steps += [flow.condition(context), Permute(self.reversal)]
            pyro.sample("z", dist.TransformedDistribution(base, steps[:-1]))


@dataclass
class FlowConfig(EncoderConfig):
    flows: int = option(2, "inverse autoregressive flow steps after the Gaussian", minimum=1)
    flow_hidden: list[int] = option([100], "hidden layer sizes of each step's autoregressive network", minimum=1)
    context: int = option(20, "numbers of the image's context h that every flow step reads", minimum=1)


def build(cfg: FlowConfig, info):
    latent_dim = info.latent("z").event_shape[0]
    return FlowGuide(cfg.encoder(info, 2 * latent_dim + cfg.context), latent_dim, cfg.context, cfg.flows,
                     cfg.flow_hidden)


GUIDES = {"flow": Guide("a Gaussian pushed through inverse autoregressive flows conditioned on x (Kingma et al. "
                        "2016)", build, FlowConfig)}
