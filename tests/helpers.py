"""What several test files share."""
import torch
from pyro.poutine.util import site_is_subsample


def binary_batch(n=8, dim=20, seed=1):
    """n seeded random binary images of dim pixels."""
    return torch.bernoulli(torch.rand(n, dim, generator=torch.Generator().manual_seed(seed)))


def latent_sites(trace):
    """name -> (value shape, event shape) of the latent sample sites of a trace."""
    return {name: (site["value"].shape, site["fn"].event_shape) for name, site in trace.nodes.items()
            if site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site)}
