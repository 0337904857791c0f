"""A Gaussian-mixture VAE: a discrete cluster with a learned prior picks the mean and scale of a Gaussian latent,
which a decoder turns into pixels,

    y ~ Categorical(softmax(cluster_logits))             one-hot, `clusters` values; uniform, or learned
    z | y ~ Normal(cluster_locs[y], diag(exp(cluster_log_scales[y])^2))
    x | z ~ likelihood(decoder(z))

With M2's guide q(y | x) q(z | x, y) (guides/m2.py), whose y is marked for enumeration, TraceEnum_ELBO sums the
ELBO over the clusters exactly, each weighted by q(y | x). Training observes no y; a y given to the model conditions
the cluster (samples of one cluster, say).
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import mlp
from ppl_vae.options import option


class GaussianMixtureVAE(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, clusters: int, likelihood: nn.Module, learn_weights=True):
        super().__init__()
        self.decoder = decoder
        self.num_classes = clusters
        self.likelihood = likelihood
        if learn_weights:
            self.cluster_logits = nn.Parameter(torch.zeros(clusters))
        else:
            self.register_buffer("cluster_logits", torch.zeros(clusters))
        # the clusters start apart (unit-variance means), else they are interchangeable and stay alike
        self.cluster_locs = nn.Parameter(torch.randn(clusters, latent_dim))
        self.cluster_log_scales = nn.Parameter(torch.zeros(clusters, latent_dim))

    def forward(self, x, y=None):
        pyro.module("gmvae", self)
        with pyro.plate("data", x.shape[0], device=x.device):
            y = pyro.sample("y", dist.OneHotCategorical(logits=self.cluster_logits), obs=y)
            z = pyro.sample("z", dist.Normal(y @ self.cluster_locs, (y @ self.cluster_log_scales).exp()).to_event(1))
            pyro.sample("x", self.likelihood(self.decoder(z)).to_event(1), obs=x)

    def cluster_log_posterior(self, z):
        """log p(y | z) up to a constant per z, for each cluster: log p(y) + log Normal(z; locs[y], scales[y]), z of
        shape (..., latent) -> (..., clusters)."""
        components = dist.Normal(self.cluster_locs, self.cluster_log_scales.exp()).to_event(1)
        return self.cluster_logits.log_softmax(-1) + components.log_prob(z.unsqueeze(-2))

    @torch.no_grad()
    def fit_clusters(self, codes, assignments):
        """The mixture set to the codes' clusters (VaDE's initialization from a pretrained autoencoder): each
        cluster's weight, mean and per-dimension scale those of its codes."""
        for k in range(self.num_classes):
            members = codes[assignments == k]
            self.cluster_locs[k] = members.mean(0)
            self.cluster_log_scales[k] = members.std(0).clamp(min=1e-3).log() if len(members) > 1 else 0.0
            if isinstance(self.cluster_logits, nn.Parameter):
                self.cluster_logits[k] = math.log(max(len(members), 1) / len(codes))


PRETRAIN_LOSSES = ["likelihood", "squared-error"]
HIDDEN_HELP = "hidden layer sizes of the MLPs (ReLU), encoder side first; the decoder mirrors them"
PRETRAIN_HELP = ("epochs of autoencoder pretraining (the vade guide's code and the decoder), after which the mixture "
                 "is set to the k-means clusters of the codes (VaDE, Jiang et al. 2017); 0: none")


@dataclass
class MixtureConfig(LikelihoodConfig):
    clusters: int = option(10, "values of the mixture's cluster y", minimum=2)
    latent: int = option(10, "latent dimension", minimum=1)
    hidden: list[int] = option([500, 500], HIDDEN_HELP, minimum=1)
    learn_weights: bool = option(True, "uniform mixture weights, not learned", flag="--uniform-weights")
    pretrain: int = option(0, PRETRAIN_HELP, minimum=0)
    # VaDE's reference code pretrains at 1e-3 and trains at 2e-3 (docs/discrete.md: at 2e-3 the pretraining's codes
    # start the clusters lower)
    pretrain_lr: float = option(0.0, "Adam learning rate of the pretraining; 0: the training's --lr", minimum=0)
    # VaDE's reference code pretrains on squared error of grey pixels (docs/discrete.md: its clusters start higher)
    pretrain_loss: str = option("likelihood", "the pretraining's loss: the model's likelihood of the training "
                                "images as trained (binarized if --binarize says so), or the squared error of the "
                                "decoder's mean to the grey pixels", choices=PRETRAIN_LOSSES)


@dataclass
class VaDEConfig(MixtureConfig):
    # VaDE's MNIST networks (Jiang et al. 2017, sec. 4.1): 784-500-500-2000-10 and its mirror, pretrained
    hidden: list[int] = option([500, 500, 2000], HIDDEN_HELP, minimum=1)
    pretrain: int = option(10, PRETRAIN_HELP, minimum=0)


def build(cfg: MixtureConfig, image_shape):
    decoder = mlp([cfg.latent, *reversed(cfg.hidden), math.prod(image_shape)], nn.ReLU)
    return GaussianMixtureVAE(decoder, cfg.latent, cfg.clusters, cfg.likelihood_module(), cfg.learn_weights)


def encoder(cfg: MixtureConfig, image_shape, out_dim, extra_inputs=0):
    return mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], nn.ReLU)
