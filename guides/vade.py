"""VaDE's guide for the Gaussian-mixture VAE (Jiang et al. 2017, eq. 16):

    q(z | x) = Normal(loc(x), diag(scale(x)^2))      one encoder, which does not see the cluster
    q(y | x) = p(y | z = loc(x))                     the mixture's own posterior over clusters at the code

q(y | x) has no network of its own: it reads the mixture's p(y | z), which the model shares (models/mixture.py), so it
follows the mixture as it learns. VaDE evaluates p(y | z) at a draw of z; at its mean q(y | x) is a function of x
alone, the guide factorizes as q(z | x) q(y | x), and the clusters it assigns are deterministic. `config_enumerate`
marks y, so TraceEnum_ELBO sums the ELBO over the clusters exactly, the decoder run once per image since z does not
depend on y.
"""
import pyro
import pyro.distributions as dist
from pyro.infer import config_enumerate
from torch import nn

from ppl_vae.nets import diagonal_normal
from ppl_vae.pairs import Guide


class VaDEGuide(nn.Module):
    def __init__(self, encoder: nn.Module, cluster_posterior):
        super().__init__()
        self.encoder = encoder
        self.cluster_posterior = cluster_posterior  # z -> log p(y | z) + const, the model's: read, not owned

    @config_enumerate
    def forward(self, x, y=None):
        pyro.module("encoder", self.encoder)
        q_z = diagonal_normal(self.encoder(x))
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("z", q_z.to_event(1))
            if y is None:
                pyro.sample("y", dist.OneHotCategorical(logits=self.cluster_posterior(q_z.loc)))


def build(cfg, info):
    """For a model that shares its cluster posterior p(y | z): the model's mirrored encoder gives q(z | x)."""
    return VaDEGuide(info.encoder(2 * info.latent("z").event_shape[0]), info.share("cluster_posterior"))


GUIDES = {"vade": Guide("VaDE's: q(z | x) from an encoder that does not see the cluster, q(y | x) the mixture's own "
                        "p(y | z), enumerated", build)}
