"""What a pair's traces call for on the data points of one split, whatever the pair: accuracy (and clusters) where
the guide has q(y | x) of the model's class, clusters where the guide draws one category per data point, code usage
where it draws a grid of codes; and the numbers the pair declares itself (Variant.metrics). Logged each epoch on the
validation split (train.fit) and reported on the test split (runs/report.py)."""
import torch
from pyro import poutine
from torch.distributions import constraints

from ppl_vae import evaluate
from ppl_vae.pairs import class_site, latent_sites


def one_per_point(fn):
    """Whether a latent site takes one category per data point: a one-hot vector or an index."""
    return fn.support is constraints.one_hot or fn.support.is_discrete and len(fn.event_shape) == 0


def code_count(fn):
    """The number of codes of a discrete site that draws a grid of indices (the VQ-VAE's), else None."""
    support = fn.support
    while hasattr(support, "base_constraint"):
        support = support.base_constraint
    if fn.support.is_discrete and len(fn.event_shape) >= 1 and hasattr(support, "upper_bound"):
        return int(support.upper_bound) + 1
    return None


@torch.no_grad()
def split_metrics(model, guide, batches, images, labels, prefix, own=None, known=()):
    """The numbers of the module's docstring on one split: `batches()` gives its batches (tuples of the programs'
    arguments), `images` and `labels` its data points and their labels (-1: unknown); names begin with `prefix`
    (valid, test). `own`: the pair's (model, guide, images, labels) -> {name: number}; `known`: names measured
    already (by a scheme), not measured again."""
    results, labelled = {}, len(labels) > 0 and bool((labels >= 0).all())
    first = next(batches())
    with poutine.block():
        guide_sites = latent_sites(poutine.trace(guide).get_trace(*first))
        _, model_trace = evaluate.traces(model, guide, *first)
    found = class_site(model, first[0][:1])
    if found and found[0] in guide_sites and labelled and f"{prefix}_accuracy" not in known:  # a classifier q(y | x)
        results[f"{prefix}_accuracy"] = evaluate.accuracy(guide, images, labels, found[0])
    clusters = [name for name, fn in guide_sites.items() if one_per_point(fn)]
    if clusters and labelled:
        results[f"{prefix}_cluster_accuracy"] = evaluate.cluster_accuracy(guide, images, labels, clusters[0])
        results[f"{prefix}_cluster_accuracy_many_to_one"] = evaluate.cluster_accuracy(guide, images, labels,
                                                                                      clusters[0], many_to_one=True)
    grids = {name: code_count(model_trace.nodes[name]["fn"]) for name in guide_sites if name in model_trace.nodes}
    grids = {name: count for name, count in grids.items() if count}
    if grids:
        name, count = next(iter(grids.items()))
        used, perplexity = evaluate.code_usage(guide, batches(), count, name)
        results.update({f"{prefix}_codes": count, f"{prefix}_codes_used": used, f"{prefix}_perplexity": perplexity})
    if own:
        results.update({f"{prefix}_{name}": value for name, value in own(model, guide, images, labels).items()})
    return results
