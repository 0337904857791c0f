"""The Ladder VAE's guide (Sønderby et al. 2016, sec. 2.2): a deterministic bottom-up pass, then top-down sampling
in which each layer's Gaussian is the normalized product of two, the bottom-up one that the data give and the
top-down one of the generative model given the layer above (its prior):

    d_0 = x,  d_l = bottom_up[l-1](d_(l-1)),  q̂_l = Normal(heads[l-1](d_l))            l = 1, ..., L
    q(z_L | x) = q̂_L
    q(z_l | z_(l+1), x) ∝ q̂_l(z_l) · p(z_l | z_(l+1))                                    l = L-1, ..., 1

The prior's networks p(z_l | z_(l+1)) are the model's top-down path, which it shares (ModelInfo.shared): the guide
registers them under the model's name, so one set of parameters serves both programs. The bottom-up pass and the
heads are the model's mirrored encoder of each layer (models/hierarchical.py, ladder_encoder): d_0 = x -> d_1 -> ...
with hidden[l-1] units in d_l.
"""
import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.nets import diagonal_normal
from ppl_vae.pairs import Guide


def precision_weighted(a: dist.Normal, b: dist.Normal) -> dist.Normal:
    """The product of two diagonal Gaussian densities, normalized: precisions add, and the loc is the precision-weighted
    mean of the two locs (Sønderby et al. 2016, eq. 19-20). Written with variances rather than precisions, which
    overflow, and their gradients first, when a scale nears 0."""
    variance_a, variance_b = a.scale.pow(2), b.scale.pow(2)
    total = variance_a + variance_b
    return dist.Normal((a.loc * variance_b + b.loc * variance_a) / total, a.scale * b.scale / total.sqrt())


class LadderGuide(nn.Module):
    def __init__(self, bottom_up: nn.ModuleList, heads: nn.ModuleList, top_down: nn.ModuleList):
        super().__init__()
        self.bottom_up = bottom_up
        self.heads = heads
        self.top_down = top_down  # the model's

    def forward(self, x):
        pyro.module("bottom_up", self.bottom_up)
        pyro.module("heads", self.heads)
        pyro.module("top_down", self.top_down)
        with pyro.plate("data", x.shape[0], device=x.device):
            d, likelihoods = x, []  # the deterministic pass, once per image whatever the particles
            for up, head in zip(self.bottom_up, self.heads):
                d = up(d)
                likelihoods.append(diagonal_normal(head(d)))
            z = pyro.sample(f"z{len(likelihoods)}", likelihoods[-1].to_event(1))
            for layer in reversed(range(1, len(likelihoods))):
                prior = diagonal_normal(self.top_down[layer - 1](z))
                z = pyro.sample(f"z{layer}", precision_weighted(likelihoods[layer - 1], prior).to_event(1))


def build(cfg, info):
    """The model's mirrored encoder of each layer, its deterministic units and its head run apart (the model's
    ladder_encoder), and the model's top-down path, which it shares."""
    bottom_up, heads = zip(*(info.encoder(2 * size, ladder_layer=layer)
                             for layer, size in enumerate(info.layers(), start=1)))
    return LadderGuide(nn.ModuleList(bottom_up), nn.ModuleList(heads), info.share("top_down"))


GUIDES = {"ladder": Guide("the Ladder VAE's top-down guide, merging bottom-up and generative Gaussians by precision",
                          build)}
