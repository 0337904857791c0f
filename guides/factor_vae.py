"""FactorVAE's guide (Kim & Mnih 2018): the mean-field Gaussian q(z | x), and while training the total correlation
of the code penalized through a discriminator's density ratio,

    L = ELBO - gamma KL(q(z) || prod_j q(z_j)),   KL(q(z) || prod_j q(z_j)) ~ E_q(z)[log D(z) / (1 - D(z))]   (eq. 2-3)

where D tells draws of q(z) from draws of prod_j q(z_j), made by permuting each unit across the batch (Algorithm
1). Both terms enter as factors of the guide, as the VQ-VAE's do: a guide factor adds to log q, so the ELBO
subtracts it.
- "total_correlation": gamma * sum over the batch of the discriminator's logit ratio at each z, with the
  discriminator's weights held fixed, so that it trains the encoder only;
- "discriminator": the discriminator's cross-entropy on the batch's draws (detached) and their permutation, so that it
  trains the discriminator only.
The objective with them is no bound on log p(x). In evaluation mode (validation, evaluate) the guide is q(z | x)
alone, and the ELBO and log p(x) are the model's.
"""
from dataclasses import dataclass
from functools import partial

import pyro
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ppl_vae.guides.gaussian import EncoderConfig
from ppl_vae.nets import diagonal_normal, mlp
from ppl_vae.options import option
from ppl_vae.pairs import Guide


def permuted_units(z, generator=None):
    """Each unit of the batch's codes permuted across the batch on its own: draws of prod_j q(z_j)."""
    order = torch.rand(z.shape, generator=generator, device=z.device).argsort(0)
    return z.gather(0, order)


class FactorVAEGuide(nn.Module):
    def __init__(self, encoder: nn.Module, discriminator: nn.Module, gamma: float, discriminator_adam: dict):
        super().__init__()
        self.encoder = encoder
        self.discriminator = discriminator
        self.gamma = gamma
        self.discriminator_adam = discriminator_adam

    def optimizer_groups(self):
        """The discriminator's Adam settings, its own as in Kim & Mnih's training (train.make_optimizer)."""
        return [{"params": list(self.discriminator.parameters()), **self.discriminator_adam}]

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        pyro.module("discriminator", self.discriminator)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", diagonal_normal(self.encoder(x)).to_event(1))
        if self.training:
            if z.dim() != 2:  # (particles, batch, units)
                raise ValueError("--guide factor-vae: its penalty and its discriminator read one draw of the batch's "
                                 "codes, not vectorized particles (--elbo wake, or --num-particles above 1)")
            fixed = {name: p.detach() for name, p in self.discriminator.named_parameters()}
            logits = functional_call(self.discriminator, fixed, (z,))
            pyro.factor("total_correlation", self.gamma * (logits[:, 0] - logits[:, 1]).sum(), has_rsample=True)
            draws = torch.cat([z.detach(), permuted_units(z.detach())])
            labels = torch.arange(2, device=x.device).repeat_interleave(len(z))  # 0: q(z), 1: prod_j q(z_j)
            loss = F.cross_entropy(self.discriminator(draws), labels, reduction="sum") / 2
            pyro.factor("discriminator", loss, has_rsample=True)


@dataclass
class FactorVAEConfig(EncoderConfig):
    gamma: float = option(35.0, "weight gamma of the total correlation, estimated by the discriminator (Kim & Mnih "
                          "2018)", minimum=0)
    # six hidden layers of 1000 leaky ReLU units: Kim & Mnih's appendix A as disentanglement_lib builds it
    # (methods/shared/architectures.py, fc_discriminator)
    discriminator: list[int] = option([1000] * 6, "hidden layer sizes of the discriminator (leaky ReLU, slope "
                                      "0.2)", minimum=1)
    # Kim & Mnih train the discriminator by an Adam of its own: lr 1e-4, betas (0.5, 0.9); the VAE's at 1e-4
    discriminator_lr: float = option(1e-4, "Adam learning rate of the discriminator", above=0)
    discriminator_betas: list[float] = option([0.5, 0.9], "Adam's two decay rates for the discriminator",
                                              minimum=0)


def build(cfg: FactorVAEConfig, info):
    latent_dim = info.latent("z").event_shape[0]
    encoder = cfg.encoder(info, 2 * latent_dim)  # first: the same weights as the Gaussian guide's for a seed
    if len(cfg.discriminator_betas) != 2 or max(cfg.discriminator_betas) >= 1:
        raise ValueError(f"--discriminator-betas takes two numbers in [0, 1), not {cfg.discriminator_betas}")
    discriminator = mlp([latent_dim, *cfg.discriminator, 2], partial(nn.LeakyReLU, 0.2))
    adam = {"lr": cfg.discriminator_lr, "betas": tuple(cfg.discriminator_betas)}
    return FactorVAEGuide(encoder, discriminator, cfg.gamma, adam)


GUIDES = {"factor-vae": Guide("FactorVAE's: mean-field Gaussian q(z | x), and while training its total correlation "
                              "penalized by a discriminator trained alongside (Kim & Mnih 2018)", build,
                              FactorVAEConfig)}
