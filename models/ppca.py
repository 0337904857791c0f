"""Probabilistic PCA (Tipping & Bishop 1999), the linear-Gaussian latent variable model:

    z ~ Normal(0, I)                      latent_dim numbers
    x | z ~ Normal(W z + b, sigma^2 I)    data_dim numbers

Its marginal likelihood is exact, log p(x) = log Normal(x; b, W W^T + sigma^2 I), which makes it the yardstick for
estimators of log p(x).
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn


class PPCA(nn.Module):
    def __init__(self, data_dim: int, latent_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(data_dim, latent_dim))
        self.bias = nn.Parameter(torch.zeros(data_dim))
        self.log_sigma = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        pyro.module("ppca", self)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample("z", dist.Normal(x.new_zeros(self.weight.shape[1]), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z @ self.weight.T + self.bias, self.log_sigma.exp()).to_event(1), obs=x)

    def log_marginal(self, x):
        """The exact log p(x) of each row of x."""
        covariance = self.weight @ self.weight.T + self.log_sigma.exp() ** 2 * torch.eye(len(self.bias)).to(x)
        return dist.MultivariateNormal(self.bias, covariance).log_prob(x)
