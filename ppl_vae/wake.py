"""Reweighted wake-wake (Bornschein & Bengio 2015; Le et al. 2019, "Revisiting reweighted wake-sleep"), per data point:
with K draws z_k ~ q(z | x) taken as fixed values (no reparameterization path) and their self-normalized weights
w~_k = softmax_k(log p(x, z_k) - log q(z_k | x)),

    wake-theta:  the model's parameters ascend log (1/K) sum_k p(x, z_k) / q(z_k | x)   (the IWAE bound's theta-gradient)
    wake-phi:    the guide's parameters ascend sum_k w~_k log q(z_k | x)                 (a reweighted estimate of
                                                                                          -KL(p(z | x) || q(z | x)))

Pyro's ReweightedWakeSleep weighs each particle by the log weight summed over the whole batch, which it warns is not
for minibatches; here the weights are per data point, from the pair's traces (evaluate.log_densities), so any pair
whose guide enumerates nothing trains on it. The reported loss is minus the IWAE bound at the draws.
"""
import math

from pyro.poutine.messenger import Messenger

from ppl_vae.evaluate import log_densities, max_plate_nesting


class Detached(Messenger):
    """The guide's draws as fixed values: the gradient of log q(z | x) at them is the score function's. Entered
    outside the tracing (post-processing runs from the outermost messenger in), so the traces hold the detached
    values."""

    def _pyro_post_sample(self, msg):
        if not msg["is_observed"]:
            msg["value"] = msg["value"].detach()


def enumerated(guide_trace):
    """Why wake-wake cannot train a pair whose guide enumerates a site, or None: it weighs the guide's draws."""
    names = [name for name, site in guide_trace.nodes.items() if site["type"] == "sample"
             and site["infer"].get("enumerate") == "parallel"]
    return f"weighs the guide's draws; this guide enumerates {names[0]!r} (use --elbo enum)" if names else None


class WakeWake:
    def __init__(self, num_particles=1, vectorize_particles=True, data_plate="data"):
        # (the particles are always vectorized, in evaluate.log_densities' plate)
        self.num_particles, self.data_plate = num_particles, data_plate

    def terms(self, model, guide, *args, **kwargs):
        """The wake-theta and wake-phi losses, summed over the batch."""
        nesting = max_plate_nesting(model, guide, args, kwargs)
        with Detached():
            log_p, log_q, guide_trace = log_densities(model, guide, args, kwargs, self.num_particles, nesting, self.data_plate)
        if log_p.shape[0] != 1:
            raise ValueError(f"--elbo wake {enumerated(guide_trace)}")
        log_weight = log_p[0] - log_q[0].detach()  # (particles, data points)
        log_bound = log_weight.logsumexp(0) - math.log(self.num_particles)
        normalized = (log_weight - log_weight.logsumexp(0)).exp().detach()
        return -log_bound.sum(), -(normalized * log_q[0]).sum()

    def loss(self, model, guide, *args, **kwargs):
        return self.terms(model, guide, *args, **kwargs)[0].item()

    def loss_and_grads(self, model, guide, *args, **kwargs):
        wake_theta, wake_phi = self.terms(model, guide, *args, **kwargs)
        (wake_theta + wake_phi).backward()  # wake-theta reaches only the model, wake-phi only the guide
        return wake_theta.item()
