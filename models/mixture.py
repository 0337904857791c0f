"""A Gaussian-mixture VAE: a discrete cluster with a learned prior picks the mean and scale of a Gaussian latent,
which a decoder turns into Bernoulli pixels,

    y ~ Categorical(softmax(cluster_logits))             one-hot, `clusters` values; uniform, or learned
    z | y ~ Normal(cluster_locs[y], diag(exp(cluster_log_scales[y])^2))
    x | z ~ Bernoulli(logits = decoder(z))

With M2's guide q(y | x) q(z | x, y) (guides/m2.py), whose y is marked for enumeration, TraceEnum_ELBO sums the
ELBO over the clusters exactly, each weighted by q(y | x). Training observes no y; a y given to the model conditions
the cluster (samples of one cluster, say).
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn

from models.m2 import pixels


class GaussianMixtureVAE(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, clusters: int, learn_weights=True):
        super().__init__()
        self.decoder = decoder
        self.num_classes = clusters
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
            pyro.sample("x", pixels(self.decoder(z)).to_event(1), obs=x)
