"""DIP-VAE's guide (Kumar et al. 2018, "Variational inference of disentangled latent concepts from unlabeled
observations"): the mean-field Gaussian q(z | x), and while training a penalty that moves the covariance C of the
aggregate posterior q(z) = E_p(x) q(z | x) towards the prior's, the identity (eq. 6 and 7):

    lambda_od sum_{i != j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2

DIP-VAE-I takes C = Cov_p(x)[mu(x)], the covariance of the encoder's means; DIP-VAE-II the whole covariance of q(z),
C = E_p(x)[diag sigma(x)^2] + Cov_p(x)[mu(x)]. Both are estimated on the batch. The penalty is a factor of the
guide, as FactorVAE's are (a guide factor adds to log q, so the ELBO subtracts it), times the batch size, since
our loss sums over the batch's images where the paper's averages. The objective is no bound on log p(x). In
evaluation mode (validation, evaluate) the guide is q(z | x) alone.
"""
from dataclasses import dataclass

import pyro
import torch
from torch import nn

from ppl_vae.guides.gaussian import EncoderConfig
from ppl_vae.nets import diagonal_normal
from ppl_vae.options import option
from ppl_vae.pairs import Guide

KINDS = ["i", "ii"]


class DIPVAEGuide(nn.Module):
    def __init__(self, encoder: nn.Module, kind: str, lambda_od: float, lambda_d: float):
        super().__init__()
        self.encoder = encoder
        self.kind, self.lambda_od, self.lambda_d = kind, lambda_od, lambda_d

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        q_z = diagonal_normal(self.encoder(x))
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("z", q_z.to_event(1))
        if self.training:
            pyro.factor("covariance_penalty", len(x) * self.penalty(q_z.loc, q_z.scale), has_rsample=True)

    def penalty(self, loc, scale):
        """lambda_od times the squared off-diagonal of C plus lambda_d times the squared distance of its diagonal
        from 1, C estimated on the batch."""
        covariance = torch.cov(loc.T, correction=0)
        if self.kind == "ii":
            covariance = covariance + torch.diag((scale ** 2).mean(0))
        diagonal = covariance.diagonal()
        off_diagonal = covariance - torch.diag(diagonal)
        return self.lambda_od * (off_diagonal ** 2).sum() + self.lambda_d * ((diagonal - 1) ** 2).sum()


@dataclass
class DIPVAEConfig(EncoderConfig):
    dip: str = option("i", "DIP-VAE-I (the covariance of the encoder's means) or -II (the whole covariance of q(z))",
                      choices=KINDS)
    lambda_od: float = option(10.0, "weight of the squared off-diagonal covariances (Kumar et al.'s lambda_od)",
                              minimum=0)
    lambda_d: float | None = option(None, "weight of the diagonal's squared distance from 1; default: 10 lambda_od "
                                    "for DIP-VAE-I, lambda_od for -II, as Kumar et al. take them", minimum=0)


def build(cfg: DIPVAEConfig, info):
    lambda_d = cfg.lambda_d if cfg.lambda_d is not None else cfg.lambda_od * (10 if cfg.dip == "i" else 1)
    return DIPVAEGuide(cfg.encoder(info, 2 * info.latent("z").event_shape[0]), cfg.dip, cfg.lambda_od, lambda_d)


GUIDES = {"dip-vae": Guide("DIP-VAE's: mean-field Gaussian q(z | x), and while training the covariance of q(z) (-I: "
                           "of the encoder's means) pulled towards the identity (Kumar et al. 2018)", build,
                           DIPVAEConfig)}
