"""Reading a trained (model, guide) pair: bounds on log p(x) and importance-weighted estimates of it, in nats per
image (higher is better).

`log_likelihood` works for any pair from Pyro traces alone: it runs the guide and the model against it inside a
plate of particles, scores every site, and sums out by Pyro's tensor contraction the discrete sites the model
enumerates. Nothing in it knows a variant.
"""
import math
from collections import OrderedDict

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.ops import packed
from pyro.ops.contract import contract_to_tensor
from pyro.ops.rings import LogRing
from pyro.poutine.enum_messenger import EnumMessenger
from pyro.poutine.runtime import NonlocalExit
from pyro.poutine.util import prune_subsample_sites

from ppl_vae.decomposition import latent_kl_terms

PARTICLES = "iw_particles"  # the name of the plate of importance samples
IW_SAMPLES = 5000  # k of the papers' protocol (Burda et al. 2015): importance samples per data point
CHUNK_SIZE = 1000  # importance samples per pass: memory grows with it, not with k


@torch.no_grad()
def mean_elbo(model, guide, batches, elbo):
    """The ELBO per image over all `batches` (tuples of the programs' arguments, images first), estimated by `elbo` (a Pyro ELBO instance: its loss is -ELBO summed
    over the batch)."""
    total, count = 0.0, 0
    for batch in batches:
        total -= elbo.loss(model, guide, *batch)
        count += len(batch[0])
    return total / count


@torch.no_grad()
def mean_reconstruction(model, guide, batches):
    """The ELBO's reconstruction term E_q[log p(x | z)] per image over all `batches`, one z ~ q(z | x) per image:
    the log-probability of the model's observed sites. Its negative is the reconstruction error: summed binary
    cross-entropy for Bernoulli pixels."""
    total, count = 0.0, 0
    for batch in batches:
        _, model_trace = traces(model, guide, *batch)
        total += model_trace.log_prob_sum(lambda name, site: site["is_observed"]).item()
        count += len(batch[0])
    return total / count


def site_before(program, site, *args):
    """The message of `site` as `program` reaches it, before anything is drawn there (q(y | x) read without drawing
    y), and the trace of the sites before it."""
    traced = poutine.trace(poutine.escape(program, lambda msg: msg["name"] == site))
    try:
        traced(*args)
    except NonlocalExit as exit:
        return exit.site, traced.msngr.trace
    raise ValueError(f"the program has no site {site!r}")


def class_distributions(guide, images, site="y", batch_size=1000):
    """The guide's q(y | x) at `site` for each batch of `batch_size` images, in order (no gradients, nothing
    drawn)."""
    for x in images.split(batch_size):
        with torch.no_grad():
            yield site_before(guide, site, x)[0]["fn"]


def predictions(guide, images, site="y"):
    """The most probable value of each image's class under the guide's q(y | x), at `site`."""
    return torch.cat([q_y.probs.argmax(dim=-1) for q_y in class_distributions(guide, images, site)])


def mean_log_prob(guide, images, labels, site="y", batch_size=1000):
    """The mean over images of log q(y | x) at their labels under the guide's classifier at `site` (the
    classification term of Kingma et al.'s eq. 9, per image)."""
    # the logits of a OneHotCategorical are normalized: log q(y | x) for each class
    total = sum(q_y.logits.gather(-1, y.long().unsqueeze(-1)).sum().item()
                for q_y, y in zip(class_distributions(guide, images, site, batch_size), labels.split(batch_size)))
    return total / len(images)


def accuracy(guide, images, labels, site="y"):
    """The fraction of images whose most probable class under the guide's q(y | x), at `site`, is their label."""
    return (predictions(guide, images, site) == labels).float().mean().item()


def cluster_accuracy(guide, images, labels, site="y", many_to_one=False):
    """Unsupervised clustering accuracy: the fraction of images whose most probable cluster under q(y | x) maps to
    their label, under the one-to-one map of clusters to labels that makes it largest (VaDE's measure), or with
    many_to_one each cluster mapped to its most frequent label, several clusters to one label allowed (Rui Shu's
    GMVAE's)."""
    clusters = predictions(guide, images, site)
    counts = torch.zeros(int(clusters.max()) + 1, int(labels.max()) + 1, dtype=torch.long)
    counts.index_put_((clusters.cpu(), labels.long().cpu()), torch.tensor(1), accumulate=True)
    matched = counts.max(dim=1).values.sum().item() if many_to_one else best_matching(counts.tolist())
    return matched / len(images)


def best_matching(counts):
    """The largest total of counts[row][column] over one-to-one matchings of rows to columns (some left unmatched
    where there are more of one than the other): the assignment problem the Hungarian algorithm solves, here by
    dynamic programming over the sets of columns taken, 2^columns states (a thousand for 10 digits)."""
    best = {0: 0}  # the set of columns taken, as bits -> the largest total for the rows so far
    for row in counts:
        after = dict(best)  # this row unmatched
        for taken, total in best.items():
            for column, count in enumerate(row):
                if not taken >> column & 1 and total + count > after.get(taken | 1 << column, -1):
                    after[taken | 1 << column] = total + count
        best = after
    return max(best.values())


@torch.no_grad()
def code_usage(guide, batches, num_codes, site="code"):
    """How many of the `num_codes` codes the guide's discrete `site` takes over `batches` (tuples of the guide's
    arguments), and the perplexity of their use, exp(-sum_k p_k log p_k) with p_k the fraction of positions that
    take code k: num_codes when every code is used alike, 1 when one code is used everywhere."""
    counts = torch.zeros(num_codes)
    for batch in batches:
        code = poutine.trace(guide).get_trace(*batch).nodes[site]["value"]
        counts += torch.bincount(code.flatten().cpu(), minlength=num_codes)
    return int((counts > 0).sum()), torch.exp(histogram_entropy(counts)).item()


def histogram_entropy(counts):
    """-sum_k p_k log p_k in nats, p_k = counts_k / sum(counts): the entropy of an empirical distribution."""
    p = counts.double() / counts.sum()
    return -torch.special.xlogy(p, p).sum()


def traces(model, guide, *args, **kwargs):
    """The trace of the guide, and that of the model run on the guide's latent values."""
    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    return guide_trace, model_trace


def point_masses(trace):
    """The latent sites of a trace drawn from a point mass (Delta, possibly wrapped): they have no density, so the
    pair gives no bound on log p(x)."""
    names = []
    for name, site in trace.nodes.items():
        if site["type"] == "sample" and not site["is_observed"]:
            fn = site["fn"]
            while hasattr(fn, "base_dist"):
                fn = fn.base_dist
            if isinstance(fn, dist.Delta):
                names.append(name)
    return names


@torch.no_grad()
def log_likelihood(model, guide, *args, iw_samples=IW_SAMPLES, chunk_size=CHUNK_SIZE, data_plate="data", **kwargs):
    """Importance-weighted estimate of log p(x) for each data point of plate `data_plate`, a tensor of its size:

        log (1/k) sum_j p(x, z_j) / q(z_j | x),  z_j ~ q(z | x),  k = iw_samples    (Burda et al. 2015, eq. 8)

    A lower bound in expectation (Jensen) that rises with k to log p(x). The model and the guide are called with
    `*args, **kwargs`; their densities are taken as they are, masks kept, whatever a subsampling plate or
    poutine.scale would weigh them by in an objective (the estimate is per data point drawn). Discrete sites are summed exactly, not sampled: those the model enumerates
    (infer={"enumerate": "parallel"}, absent from the guide) inside every particle by Pyro's tensor contraction, and
    those the guide enumerates outside: each value y gets its own k particles z ~ q(z | x, y), and the estimate is
    log sum_y (1/k) sum_j p(x, y, z_j) / q(z_j | x, y), where q(y | x) cancels.

    The k particles are drawn `chunk_size` at a time and log-mean-exp is accumulated over the chunks, so peak memory
    is that of one trace of `chunk_size` particles of every data point, whatever k is: for the default VAE (784
    pixels) about 11 kB per particle and data point, 110 MB for 1000 particles of 10 images (measured).
    """
    if iw_samples < 1 or chunk_size < 1:
        raise ValueError(f"log_likelihood: iw_samples and chunk_size must be positive, got {iw_samples}, {chunk_size}")
    nesting = max_plate_nesting(model, guide, args, kwargs)
    running = None  # log sum_j w_j over the chunks so far, per enumerated guide value and data point
    for start in range(0, iw_samples, chunk_size):
        # Pyro's checks of site shapes and distribution arguments on the first chunk only, as in training
        with pyro.validation_enabled(start == 0):
            log_w = log_weights(model, guide, args, kwargs, min(chunk_size, iw_samples - start), nesting, data_plate)
        chunk = log_w.logsumexp(dim=-2)
        running = chunk if running is None else torch.logaddexp(running, chunk)
    return (running - math.log(iw_samples)).logsumexp(dim=0)


@torch.no_grad()
def layer_statistics(model, guide, batches, num_particles=100, threshold=0.01):
    """For each latent site of the guide (each layer of a hierarchy), from `num_particles` draws per image:

        kl     E_q[log q(z_l | .) - log p(z_l | .)] per image, the layer's share of the ELBO's KL term
        active the number of units u whose posterior mean E_q[u | x] varies over the images with variance above
               `threshold` (Burda et al. 2015, sec. 5.2: Cov_x(E_q[u]) > 0.01)

    E_q[u | x] is the mean of the site's distribution (site_mean) averaged over the particles, which averages over the layers the
    guide draws before it. That average carries Monte Carlo noise, of variance Var_particles(mean) / num_particles per
    image: about 0.01 for a unit whose mean moves by 1 with the layer above at 100 particles, as large as the
    threshold. The noise, estimated from the same draws, is subtracted from the variance over the images, which
    leaves an unbiased estimate of Cov_x(E_q[u | x]). `batches`: tuples of the programs' arguments, images first."""
    kl, means, noise, count, nesting = {}, {}, {}, 0, None
    for batch in batches:
        if nesting is None:  # the pair's plates, from one extra trace of the first batch
            nesting = max_plate_nesting(model, guide, batch, {})
        with pyro.plate(PARTICLES, num_particles, dim=-1 - nesting):
            guide_trace, model_trace = map(prune_subsample_sites, traces(model, guide, *batch))
        for name, site in guide_trace.nodes.items():
            if site["type"] != "sample" or site["is_observed"] or name not in model_trace:
                continue
            log_ratio = site["fn"].log_prob(site["value"]) - model_trace.nodes[name]["fn"].log_prob(site["value"])
            kl[name] = kl.get(name, 0.0) + log_ratio.mean(0).sum().item()
            mean = site_mean(site).expand_as(site["value"])
            mean = mean.reshape(*mean.shape[:2], -1)  # (particles, images, units): a latent map's units flat
            means.setdefault(name, []).append(mean.mean(0))
            noise.setdefault(name, []).append(mean.var(0) / len(mean))
        count += len(batch[0])
    return {name: {"kl": kl[name] / count, "units": means[name][0].shape[-1],
                   "active": int((torch.cat(means[name]).var(0) - torch.cat(noise[name]).mean(0) > threshold).sum())}
            for name in kl}


def posterior_moments(guide, batches, site):
    """The mean of the guide's site per image, its units flattened (N x units): the code of disentanglement scores;
    and where the site is a Gaussian of independent units, their standard deviations (else None)."""
    means, scales = [], []
    with torch.no_grad():
        for batch in batches:
            node = poutine.trace(guide).get_trace(*batch).nodes[site]
            means.append(site_mean(node).reshape(len(batch[0]), -1))
            q = node["fn"]
            gaussian = isinstance(q, dist.Independent) and isinstance(q.base_dist, dist.Normal)
            scales.append(q.base_dist.scale.expand_as(node["value"]).reshape(len(batch[0]), -1) if gaussian else None)
    return torch.cat(means), None if any(scale is None for scale in scales) else torch.cat(scales)


def unit_kl(model, guide, images, site="z", batch_size=1000):
    """KL(q(z_u | x) || p(z_u)) of each unit u of a site, averaged over the images, in closed form (a mean-field
    guide and a prior that factorize over the units, each unit's pair with a known KL: Normal and Normal, say)."""
    total = 0.0
    with torch.no_grad():
        for x in images.split(batch_size):
            guide_trace, model_trace = traces(model, guide, x)
            posterior, prior = guide_trace.nodes[site]["fn"], model_trace.nodes[site]["fn"]
            kl = torch.distributions.kl_divergence(posterior.base_dist, prior.base_dist)
            total = total + kl.reshape(len(x), -1).sum(0)
    return total / len(images)


def kl_decomposition(model, guide, batches, dataset_size):
    """The KL term's three parts (decomposition.kl_terms) of each latent site, averaged over the batches' points:
    {site: {"index_code_mi", "total_correlation", "dimension_wise_kl": nats per point}}. Batches of many points
    (a thousand, say) estimate q(z) the better."""
    sums, count = {}, 0
    with torch.no_grad():
        for batch in batches:
            guide_trace, model_trace = traces(model, guide, *batch)
            for name, terms in latent_kl_terms(model_trace, guide_trace, dataset_size).items():
                for term, values in terms.items():
                    sums.setdefault(name, {}).setdefault(term, 0.0)
                    sums[name][term] += values.sum().item()
            count += len(batch[0])
    return {name: {term: total / count for term, total in terms.items()} for name, terms in sums.items()}


def site_mean(site):
    """The mean of a site's distribution; for one without a closed-form mean (a flow), the site's draw, whose average
    over particles estimates it."""
    try:
        return site["fn"].mean
    except NotImplementedError:
        return site["value"]


def max_plate_nesting(model, guide, args, kwargs):
    """How many plates deep the pair goes, from one trace of it (as Pyro's ELBOs guess it)."""
    with poutine.block():
        guide_trace, model_trace = traces(model, guide, *args, **kwargs)
    dims = [frame.dim for trace in (guide_trace, model_trace) for site in trace.nodes.values()
            if site["type"] == "sample" for frame in site["cond_indep_stack"] if frame.vectorized]
    return -min(dims, default=0)


def log_weights(model, guide, args, kwargs, num_particles, nesting, data_plate):
    """log p(x, z) - log q(z | x) for `num_particles` draws per data point: shape (guide's enumerated values,
    particles, data points); the first axis is 1 when the guide enumerates nothing."""
    log_p, log_q, _ = log_densities(model, guide, args, kwargs, num_particles, nesting, data_plate)
    return log_p - log_q


def log_densities(model, guide, args, kwargs, num_particles, nesting, data_plate):
    """log p(x, z) and log q(z | x) apart, each of shape (guide's enumerated values, particles, data points), for
    `num_particles` draws per data point (the guide's enumerated sites left out of log q: they cancel in the
    weight), and the guide's trace. A guide replayed at given values scores them instead of drawing:
    ppl_vae/ais.py moves them by Hamiltonian Monte Carlo."""
    # The particle plate sits left of every plate of the pair; the guide's enumeration dims left of it, and the model's
    # left of the guide's (the model's EnumMessenger continues the allocation, as in TraceEnum_ELBO).
    guide = EnumMessenger(first_available_dim=-2 - nesting)(guide)
    model = EnumMessenger()(model)
    device = next((arg.device for arg in args if torch.is_tensor(arg)), None)
    with pyro.plate(PARTICLES, num_particles, dim=-1 - nesting, device=device):
        guide_trace, model_trace = traces(model, guide, *args, **kwargs)
    if point_masses(guide_trace):
        raise ValueError(f"log_likelihood: the guide puts a point mass on {', '.join(point_masses(guide_trace))}; "
                         "importance sampling needs a guide with a density")
    guide_trace, model_trace = prune_subsample_sites(guide_trace), prune_subsample_sites(model_trace)
    for trace in (guide_trace, model_trace):  # the densities themselves, masks kept: a subsampling plate's N / B and
        for site in trace.nodes.values():  # poutine.scale weigh terms of an objective, not of p(x, z) / q(z | x)
            if site["type"] == "sample":
                site["scale"] = 1.0
    guide_trace.compute_log_prob()
    model_trace.compute_log_prob()
    guide_trace.pack_tensors()
    model_trace.pack_tensors(guide_trace.plate_to_symbol)
    if data_plate not in model_trace.plate_to_symbol:
        raise ValueError(f"log_likelihood: the model has no plate named {data_plate!r} over the data points")
    data_frame = next(f for site in model_trace.nodes.values() if site["type"] == "sample"
                      for f in site["cond_indep_stack"] if f.name == data_plate)
    particles, data = model_trace.plate_to_symbol[PARTICLES], model_trace.plate_to_symbol[data_plate]
    per_point = frozenset({particles, data})
    summed_dims = {site["infer"]["_enumerate_symbol"] for name, site in model_trace.nodes.items()
                   if site["type"] == "sample" and name not in guide_trace
                   and site["infer"].get("_enumerate_dim") is not None}

    terms = {model_trace: [], guide_trace: []}  # the log-probs of each program's sites
    enumerated = OrderedDict()  # the model's terms that depend on the sites it enumerates
    for trace in (model_trace, guide_trace):
        for name, site in trace.nodes.items():
            if site["type"] != "sample" or site["infer"].get("_deterministic"):  # pyro.deterministic: no density
                continue
            ordinal = frozenset(trace.plate_to_symbol[f.name] for f in site["cond_indep_stack"] if f.vectorized)
            if not per_point <= ordinal:
                raise ValueError(f"log_likelihood: site {name!r} is outside plate {data_plate!r}; an estimate per "
                                 "data point needs every site inside it")
            if trace is guide_trace and site["infer"].get("_enumerate_dim") is not None:
                if ordinal != per_point:
                    raise ValueError(f"log_likelihood: the guide enumerates site {name!r} inside a plate nested in "
                                     f"{data_plate!r}; only one value per data point can be enumerated in the guide")
                continue  # summed over outside the log-mean-exp, where q(y | x) cancels
            term = site["packed"]["log_prob"]
            if summed_dims.intersection(term._pyro_dims):
                enumerated.setdefault(ordinal, []).append(term)
            else:
                terms[trace].append(packed.unpack(term, model_trace.symbol_to_dim))
    if enumerated:
        # Sum out the model's enumerated sites by Pyro's tensor contraction, as TraceEnum_ELBO does; plates nested in
        # the data plate are product-reduced (their logs added).
        ring = LogRing(dim_to_size={particles: num_particles, data: data_frame.size})
        log_factor = contract_to_tensor(enumerated, summed_dims, target_ordinal=per_point, ring=ring)
        terms[model_trace].append(packed.unpack(log_factor, model_trace.symbol_to_dim))

    # Add the logs over the plates nested in the data plate, then lay out as (guide's values, particles, data points).
    inner = [dim for dim in range(-nesting, 0) if dim != data_frame.dim]
    point_shape = [num_particles] + [data_frame.size if dim == data_frame.dim else 1 for dim in range(-nesting, 0)]

    def per_point(terms):
        log_density = sum((sum_dims(term, [dim for dim in inner if -dim <= term.dim()]) for term in terms),
                          torch.zeros(point_shape, device=device))
        log_density = log_density.expand(torch.broadcast_shapes(log_density.shape, point_shape)).flatten(-nesting)
        return log_density.reshape(-1, *log_density.shape[-2:])

    return per_point(terms[model_trace]), per_point(terms[guide_trace]), guide_trace


def sum_dims(tensor, dims):
    return tensor.sum(dims, keepdim=True) if dims else tensor  # (tensor.sum([]) would sum over every dim)
