"""The ELBO's KL term in three parts (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs", eq. 2):

    E_p(n)[KL(q(z | n) || p(z))] = I_q(z; n) + KL(q(z) || prod_j q(z_j)) + sum_j KL(q(z_j) || p(z_j))
                                   index-code MI  total correlation          dimension-wise KL

q(z) = (1/N) sum_n q(z | n) is the aggregate posterior over the N data points, q(z_j) its marginals, and p(z) must
factorize over the units (N(0, I) does). On a batch of M points, each with z_i ~ q(z | n_i), log q(z_i) is estimated
by minibatch-stratified sampling (Chen et al., sec. 4.1): the point's own density counts 1/N and the M - 1 others
stand for the other N - 1 points, (N - 1) / (N (M - 1)) each. The estimate is consistent, and exact when the batch
is the whole dataset. Per point the three terms add up to log q(z_i | n_i) - log p(z_i), the KL term's own draw.

TotalCorrelationELBO weighs the three parts apart, beta-TCVAE's objective (Chen et al., eq. 4):

    L = E_q[log p(x | z)] - alpha I_q(z; n) - beta KL(q(z) || prod_j q(z_j)) - gamma sum_j KL(q(z_j) || p(z_j)),

which is the ELBO at alpha = beta = gamma = 1 and for beta > 1 (the others 1) a lower bound on it, so on log p(x),
since the total correlation is never negative; with alpha or gamma below 1 it is no bound.
"""
import math

import torch
from pyro.distributions import Independent
from pyro.infer import Trace_ELBO
from pyro.poutine.util import site_is_subsample

TERMS = ("index_code_mi", "total_correlation", "dimension_wise_kl")


def log_aggregate(log_q, dataset_size):
    """log q(z_i) from log_q[..., i, j] = log q(z_i | n_j) over a batch of M points drawn from N (stratified)."""
    batch = log_q.shape[-1]
    if batch == 1:
        return log_q[..., 0] - math.log(dataset_size)  # the point itself is all the batch knows of q(z)
    own = torch.eye(batch, dtype=torch.bool, device=log_q.device)
    log_weights = torch.where(own, log_q.new_tensor(-math.log(dataset_size)),
                              log_q.new_tensor(math.log((dataset_size - 1) / (dataset_size * (batch - 1)))))
    return (log_q + log_weights).logsumexp(-1)


def kl_terms(posterior, prior, z, dataset_size):
    """Per point, the three parts of log q(z_i | n_i) - log p(z_i): each (..., M). `posterior`: q(z | n) of the M
    points, an Independent distribution of batch shape (M,); `prior` p(z), factorized the same way; z (..., M, units)."""
    if not all(isinstance(fn, Independent) and fn.base_dist.event_shape == () for fn in (posterior, prior)):
        raise ValueError("the KL decomposition needs q(z | x) and p(z) that factorize over units of one number each "
                         "(.to_event of a univariate distribution)")
    event_dims = posterior.reinterpreted_batch_ndims
    # cross[..., i, j, units] = log q(z_i,unit | n_j): each draw under every point's posterior
    cross = posterior.base_dist.log_prob(z.unsqueeze(-1 - event_dims))
    cross = cross.reshape(*cross.shape[: cross.dim() - event_dims], -1)
    log_joint = log_aggregate(cross.sum(-1), dataset_size)
    log_marginals = log_aggregate(cross.movedim(-1, -3), dataset_size).sum(-2)  # per unit, then summed
    log_own = posterior.log_prob(z)
    log_prior = prior.log_prob(z).expand(log_own.shape)
    return {"index_code_mi": log_own - log_joint, "total_correlation": log_joint - log_marginals,
            "dimension_wise_kl": log_marginals - log_prior}


def latent_kl_terms(model_trace, guide_trace, dataset_size):
    """kl_terms of each latent site of the guide, from the pair's traces of one batch: {site: {term: (M,)}}."""
    return {name: kl_terms(site["fn"], model_trace.nodes[name]["fn"], site["value"], dataset_size)
            for name, site in guide_trace.nodes.items()
            if site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site)}


def unreparameterized(guide_trace):
    """Why an objective that differentiates through the guide's draws (beta-TCVAE's, TraceMeanField_ELBO) cannot
    train a pair whose guide draws this site otherwise, or None."""
    for name, site in guide_trace.nodes.items():
        if site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site) \
                and not site["fn"].has_rsample:
            instead = "--elbo enum" if site["infer"].get("enumerate") == "parallel" else "--elbo trace"
            kind = type(getattr(site["fn"], "base_dist", site["fn"])).__name__
            return (f"needs latent sites drawn by reparameterization; the guide's {name!r}, a {kind}, is not (use "
                    f"{instead})")
    return None


class TotalCorrelationELBO(Trace_ELBO):
    """beta-TCVAE's objective (above) for any pair whose guide draws its latent sites by reparameterization: the
    ELBO of Trace_ELBO minus (alpha - 1) MI + (beta - 1) TC + (gamma - 1) dimension-wise KL of every latent site,
    estimated on the batch. `loss` is -ELBO (what evaluation reads); `loss_and_grads` steps on the objective and
    returns minus its value. Particles are drawn one at a time: the terms compare the points of one draw."""

    def __init__(self, num_particles=1, vectorize_particles=False, dataset_size=None, mi_weight=1.0, tc_weight=1.0,
                 dim_kl_weight=1.0):
        super().__init__(num_particles=num_particles)
        self.dataset_size = dataset_size
        self.extra_weights = {"index_code_mi": mi_weight - 1, "total_correlation": tc_weight - 1,
                              "dimension_wise_kl": dim_kl_weight - 1}

    def loss_and_grads(self, model, guide, *args, **kwargs):
        if self.dataset_size is None:
            raise ValueError("TotalCorrelationELBO: the dataset's size N is needed to estimate q(z)")
        loss = 0.0
        for model_trace, guide_trace in self._get_traces(model, guide, args, kwargs):
            why = unreparameterized(guide_trace)
            if why:
                raise ValueError(f"--elbo tcvae {why}")
            objective = model_trace.log_prob_sum() - guide_trace.log_prob_sum()
            for terms in latent_kl_terms(model_trace, guide_trace, self.dataset_size).values():
                objective = objective - sum(weight * terms[term].sum() for term, weight in self.extra_weights.items())
            (-objective / self.num_particles).backward()
            loss -= objective.item() / self.num_particles
        return loss
