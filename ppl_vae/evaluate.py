"""Reading a trained (model, guide) pair: bounds on log p(x) in nats per image (higher is better)."""
import torch


@torch.no_grad()
def mean_elbo(model, guide, batches, elbo):
    """The ELBO per image over all `batches`, estimated by `elbo` (a Pyro ELBO instance: its loss is -ELBO summed
    over the batch)."""
    total, count = 0.0, 0
    for x in batches:
        total -= elbo.loss(model, guide, x)
        count += len(x)
    return total / count
