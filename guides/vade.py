"""VaDE's guide for the Gaussian-mixture VAE (Jiang et al. 2017, eq. 16):

    q(z | x) = Normal(loc(x), diag(scale(x)^2))      one encoder, which does not see the cluster
    q(y | x) = p(y | z = loc(x))                     the mixture's own posterior over clusters at the code

q(y | x) has no network of its own: it reads the model's cluster parameters (models/mixture.py), so it follows the
mixture as it learns. VaDE evaluates p(y | z) at a draw of z; at its mean q(y | x) is a function of x alone, the
guide factorizes as q(z | x) q(y | x), and the clusters it assigns are deterministic. `config_enumerate` marks y, so
TraceEnum_ELBO sums the ELBO over the clusters exactly, the decoder run once per image since z does not depend on y.
"""
import pyro
import pyro.distributions as dist
from pyro.infer import config_enumerate
from torch import nn

from ppl_vae.nets import diagonal_normal


class VaDEGuide(nn.Module):
    def __init__(self, encoder: nn.Module, mixture):
        super().__init__()
        self.encoder = encoder
        self.mixture = [mixture]  # read, not owned: its parameters are the model's

    @config_enumerate
    def forward(self, x, y=None):
        pyro.module("encoder", self.encoder)
        mixture = self.mixture[0]
        q_z = diagonal_normal(self.encoder(x))
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("z", q_z.to_event(1))
            if y is None:
                pyro.sample("y", dist.OneHotCategorical(logits=mixture.cluster_log_posterior(q_z.loc)))

    def code(self, x):
        """The mean of q(z | x): the code the pretraining autoencoder reconstructs from."""
        return diagonal_normal(self.encoder(x)).loc


def build(cfg, info):
    """For the Gaussian-mixture VAE (its cluster_log_posterior): the model's mirrored encoder gives q(z | x)."""
    if not hasattr(info.model, "cluster_log_posterior"):
        raise ValueError("the vade guide reads a Gaussian mixture's clusters: use it with --model gmvae or vade")
    return VaDEGuide(info.encoder(2 * info.config.latent), info.model)
