"""The M2 guide (Kingma et al. 2014, eq. 4): a classifier and a class-conditional Gaussian encoder,

    q(y | x) = Categorical(softmax(classifier(x)))         only when y is not observed; summed, not sampled
    q(z | x, y) = Normal(loc(x, y), diag(scale(x, y)^2))   (guides/conditional.py)

`config_enumerate` marks y for parallel enumeration, so TraceEnum_ELBO sums the ELBO over the ten classes weighted
by q(y | x), with q's entropy: the unlabelled bound U(x) of Kingma's eq. 7, exactly.
"""
import pyro
import pyro.distributions as dist
from pyro.infer import config_enumerate
from torch import nn

from ppl_vae.guides.conditional import sample_z


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

    def classify(self, x, y):
        """The classification term of Kingma et al.'s eq. 9 as a program of its own: log q(y | x) of the given labels,
        observed; trained with an empty guide and weighted alpha by poutine.scale."""
        pyro.module("classifier", self.classifier)
        with pyro.plate("data", x.shape[0], device=x.device):
            pyro.sample("y_classified", dist.OneHotCategorical(logits=self.classifier(x)), obs=y)


def build(cfg, info):
    """For a model with classes (`num_classes`) or clusters and a latent z: the classifier and the class-conditional
    encoder, both the model's mirrored encoder."""
    model, latent_dim = info.model, info.config.latent
    return M2Guide(info.encoder(model.num_classes), info.encoder(2 * latent_dim, extra_inputs=model.num_classes))
