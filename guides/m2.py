"""The M2 guide (Kingma et al. 2014, eq. 4): a classifier and a class-conditional Gaussian encoder,

    q(y | x) = Categorical(softmax(classifier(x)))         only when y is not observed; summed, not sampled
    q(z | x, y) = Normal(loc(x, y), diag(scale(x, y)^2))   (guides/conditional.py)

`config_enumerate` marks y for parallel enumeration, so TraceEnum_ELBO sums the ELBO over the classes weighted by
q(y | x), with q's entropy: the unlabelled bound U(x) of Kingma's eq. 7, exactly. The classification term of the
semi-supervised scheme reads q(y | x) at the site y (schemes.semi_supervised).
"""
import pyro
import pyro.distributions as dist
from pyro.infer import config_enumerate
from torch import nn

from ppl_vae.guides.conditional import sample_z
from ppl_vae.pairs import Guide


class M2Guide(nn.Module):
    def __init__(self, classifier: nn.Module, encoder: nn.Module):
        super().__init__()
        self.classifier = classifier
        self.encoder = encoder

    @config_enumerate
    def forward(self, x, y=None):
        pyro.module("classifier", self.classifier)
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            if y is None:
                y = pyro.sample("y", dist.OneHotCategorical(logits=self.classifier(x)))
            sample_z(self.encoder, x, y)


def build(cfg, info):
    """For a model with a one-hot class or cluster y and a latent z: the classifier and the class-conditional
    encoder, both the model's mirrored encoder."""
    classes, latent_dim = info.latent("y").event_shape[-1], info.latent("z").event_shape[0]
    return M2Guide(info.encoder(classes), info.encoder(2 * latent_dim, extra_inputs=classes))


GUIDES = {"m2": Guide("a classifier q(y | x), enumerated, and q(z | x, y)", build)}
