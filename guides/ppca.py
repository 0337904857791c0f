"""The exact posterior of probabilistic PCA (models/ppca.py) as a guide (Tipping & Bishop 1999, sec. 3.2):

    q(z | x) = p(z | x) = Normal(M^-1 W^T (x - b), sigma^2 M^-1),  M = W^T W + sigma^2 I

It has no parameters of its own: it reads the model's (`weight`, `bias`, `log_sigma`), so it stays exact while the
model changes. With it every
importance weight p(x, z) / q(z | x) equals p(x).
"""
import pyro
import pyro.distributions as dist
import torch


class PPCAPosterior:
    def __init__(self, ppca):
        self.ppca = ppca

    def __call__(self, x):
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("z", self.posterior(x))

    def posterior(self, x):
        """p(z | x) for each row of x, a batch of MultivariateNormals."""
        weight, variance = self.ppca.weight, self.ppca.log_sigma.exp() ** 2
        precision = (weight.T @ weight + variance * torch.eye(weight.shape[1]).to(weight)) / variance  # M / sigma^2
        covariance = torch.linalg.inv(precision)
        loc = (x - self.ppca.bias) @ weight @ covariance / variance  # M^-1 W^T (x - b), one row per data point
        return dist.MultivariateNormal(loc, covariance)
