"""Annealed importance sampling of log p(x) for any (model, guide) pair, from Pyro traces (Neal 2001; for decoder-based
models Wu et al. 2017), and its reverse for bidirectional Monte Carlo (Grosse et al. 2015).

The chains move the guide's latent values z along the geometric path from q(z | x) to p(z | x),

    f_b(z) = q(z | x)^(1 - b) p(x, z)^b = q(z | x) w(z)^b,    w(z) = p(x, z) / q(z | x),    b = b_0 ... b_T,

each step scoring w at the current z, then moving z by Hamiltonian Monte Carlo that leaves f_b invariant. Along a
chain, sum_t (b_t - b_(t-1)) log w(z_(t-1)) is the log of an importance weight whose expectation is Z(b_T) / Z(b_0)
(Neal 2001, eq. 3): from b = 0 to 1 (forward, started from q) it is p(x) / 1, so the log-mean-exp over chains is a
stochastic lower bound on log p(x), as IWAE's; from b = 1 to 0 (reverse), started at an exact draw of p(z | x), it
is 1 / p(x), and minus its log-mean-exp is a stochastic upper bound. On data simulated from the model, where the z
each image came from is such a draw, the two sandwich log p(x) (BDMC).

log p(x, z) and log q(z | x) come from `evaluate.log_densities` with the guide replayed at z, so sites the model
enumerates stay summed inside the potential, and the chains of every data point run at once in the particle plate
of the importance samples. HMC moves real-valued latents with a density: a guide that puts a point mass, draws a
discrete or relaxed site, or enumerates one (q(y | x) would have to be annealed too) is refused.
"""
import math

import pyro
import torch
from pyro import poutine
from torch.distributions import constraints

from ppl_vae.evaluate import log_densities, max_plate_nesting, point_masses
from ppl_vae.train import progress

# Wu et al.'s rule for the leapfrog step: each chain's running acceptance rate (decay 0.9) is held near 0.65 by
# growing the step 2 % while above it and shrinking it 2 % while below.
TARGET_ACCEPTANCE, STEP_CHANGE, ACCEPTANCE_DECAY = 0.65, 1.02, 0.9


def sigmoid_schedule(steps, sharpness=4.0):
    """b_0 = 0 < b_1 < ... < b_T = 1 spaced as a sigmoid (Grosse et al. 2013), finer near both ends."""
    if steps < 1:
        raise ValueError(f"AIS needs at least one step, got {steps}")
    s = torch.sigmoid(sharpness * torch.linspace(-1.0, 1.0, steps + 1, dtype=torch.double))
    return ((s - s[0]) / (s[-1] - s[0])).tolist()


class Path:
    """The pair's log q(z | x) and log w(z) at given latent values, per chain and data point (`chains` x data
    points), with the gradient of log f_b."""

    def __init__(self, model, guide, args, kwargs=None, chains=16, data_plate="data"):
        self.model, self.guide, self.args, self.kwargs = model, guide, args, kwargs or {}
        self.chains, self.data_plate = chains, data_plate
        self.nesting = max_plate_nesting(model, guide, args, self.kwargs)

    def densities(self, guide):
        log_p, log_q, trace = log_densities(self.model, guide, self.args, self.kwargs, self.chains, self.nesting,
                                            self.data_plate)
        return log_p[0], log_q[0], trace  # the guide enumerates nothing (draw refuses it)

    def draw(self):
        """Latent values drawn from the guide, `chains` per data point, by site name (also learning their layout)."""
        with torch.no_grad():
            _, log_q, trace = self.densities(self.guide)
        latent = {name: site for name, site in trace.nodes.items()
                  if site["type"] == "sample" and not site["is_observed"]}
        refused = point_masses(trace) + [name for name, site in latent.items()
                                         if site["infer"].get("_enumerate_dim") is not None
                                         or not real_support(site["fn"])]
        if refused:
            raise ValueError(f"AIS moves real-valued latent sites by HMC: the guide's {', '.join(refused)} is a point "
                             "mass, a discrete or relaxed site, or enumerated")
        self.points = log_q.shape  # (chains, data points)
        self.event_dims = {name: site["fn"].event_dim for name, site in latent.items()}
        self.batch_shapes = {name: tuple(site["fn"].batch_shape) for name, site in latent.items()}
        for name, site in latent.items():
            if site["fn"].batch_shape.numel() != self.points.numel():
                raise ValueError(f"AIS: the guide's site {name!r} is inside a plate nested in {self.data_plate!r}; "
                                 "its chains move one value per data point")
        return {name: site["value"].detach() for name, site in latent.items()}

    def __call__(self, values, b):
        """log q(z | x) and log w(z) at `values` (detached), and the gradient of log f_b, by site."""
        values = {name: value.detach().requires_grad_() for name, value in values.items()}
        log_p, log_q, _ = self.densities(self.at(values))
        log_w = log_p - log_q
        gradients = torch.autograd.grad((log_q + b * log_w).sum(), list(values.values()))  # chains independent
        return log_q.detach(), log_w.detach(), dict(zip(values, gradients))

    def at(self, values):
        """The guide with its latent sites set to `values`, as drawn (replayed), not observed: scored as it scores
        its own draws."""
        trace = poutine.Trace()
        for name, value in values.items():
            trace.add_node(name, type="sample", is_observed=False, value=value, infer={})
        return poutine.replay(self.guide, trace=trace)

    def spread(self, tensor, name):
        """A (chains, data points) tensor laid out to broadcast against the values of site `name` (its batch shape:
        chains leftmost, data points at the data plate's dim, 1 elsewhere)."""
        return tensor.reshape(self.batch_shapes[name] + (1,) * self.event_dims[name])

    def sum_events(self, tensor, name):
        """A site's per-element tensor summed over its event dims, as (chains, data points)."""
        dims = list(range(-self.event_dims[name], 0))
        return (tensor.sum(dims) if dims else tensor).reshape(self.points)


def real_support(fn):
    """Whether a distribution's values are unconstrained reals (possibly as an event of several)."""
    support = fn.support
    while isinstance(support, constraints.independent):
        support = support.base_constraint
    return support is constraints.real


def hmc_transition(path, values, b, step_size, leapfrog_steps):
    """One HMC move per chain and data point, identity mass, `leapfrog_steps` leapfrog steps of `step_size` (chains x
    data points), accepted by Metropolis on f_b (Neal 2011, "MCMC using Hamiltonian dynamics"): the new values and
    the accepted mask."""
    log_q, log_w, gradient = path(values, b)
    momentum = {name: torch.randn_like(value) for name, value in values.items()}
    start_energy = log_q + b * log_w - sum(path.sum_events(0.5 * m ** 2, name) for name, m in momentum.items())
    eps = {name: path.spread(step_size, name) for name in values}
    momentum = {name: momentum[name] + 0.5 * eps[name] * gradient[name] for name in values}  # half step
    proposal = values
    for step in range(leapfrog_steps):
        proposal = {name: proposal[name] + eps[name] * momentum[name] for name in values}
        log_q, log_w, gradient = path(proposal, b)
        last = step == leapfrog_steps - 1
        momentum = {name: momentum[name] + (0.5 if last else 1.0) * eps[name] * gradient[name] for name in values}
    end_energy = log_q + b * log_w - sum(path.sum_events(0.5 * m ** 2, name) for name, m in momentum.items())
    log_accept = (end_energy - start_energy).nan_to_num(-math.inf)  # a diverged trajectory (nan) is rejected
    accepted = torch.rand_like(log_accept).log() < log_accept
    moved = {name: torch.where(path.spread(accepted, name), proposal[name], values[name]) for name in values}
    return moved, accepted


def anneal(path, values, schedule, leapfrog_steps=10, step_size=0.05, description="AIS"):
    """Runs the chains from `values`, distributed as f_(schedule[0]), through the schedule: the log importance weight
    of each (chain, data point), sum_t (b_t - b_(t-1)) log w(z_(t-1)), as float64, and the mean acceptance rate."""
    log_weight = torch.zeros(path.points, dtype=torch.double, device=next(iter(values.values())).device)
    step_size = torch.full_like(log_weight, step_size)
    acceptance = torch.full_like(log_weight, TARGET_ACCEPTANCE)
    accepted_sum, moves = 0.0, 0
    with pyro.validation_enabled(False), progress(len(schedule) - 1, description, unit="step") as bar:
        for t in range(1, len(schedule)):
            _, log_w, _ = path(values, schedule[t])
            log_weight += (schedule[t] - schedule[t - 1]) * log_w.double()
            if t < len(schedule) - 1:  # a move after the last weight would change nothing
                values, accepted = hmc_transition(path, values, schedule[t], step_size.to(log_w.dtype),
                                                  leapfrog_steps)
                acceptance = ACCEPTANCE_DECAY * acceptance + (1 - ACCEPTANCE_DECAY) * accepted.double()
                step_size = torch.where(acceptance > TARGET_ACCEPTANCE, step_size * STEP_CHANGE,
                                        step_size / STEP_CHANGE)
                accepted_sum, moves = accepted_sum + accepted.double().mean().item(), moves + 1
            bar.update()
    return log_weight, accepted_sum / max(moves, 1)


def simulate(model, x):
    """Data drawn from the model in the shape of the images `x`, with the latent values each image came from (an
    exact draw of p(z | x_simulated), by site): the start of BDMC's reverse chains. The model must observe its
    images only, at one site."""
    with torch.no_grad():
        observed = [name for name, site in poutine.trace(model).get_trace(x).nodes.items()
                    if site["type"] == "sample" and site["is_observed"]]
        if len(observed) != 1:
            raise ValueError(f"BDMC simulates the images: the model observes {', '.join(observed) or 'nothing'}, "
                             "not one site of images")
        trace = poutine.trace(poutine.uncondition(model)).get_trace(x)
    latent = {name: site["value"] for name, site in trace.nodes.items()
              if site["type"] == "sample" and name not in observed}
    return trace.nodes[observed[0]]["value"].reshape(x.shape), latent


def chains_at(path, values):
    """Every chain of each data point started at that point's values of the guide's latent sites (one per point, as
    `simulate` gives them; other sites left out)."""
    started = {}
    for name, batch_shape in path.batch_shapes.items():
        event_shape = values[name].shape[values[name].dim() - path.event_dims[name]:]
        started[name] = values[name].reshape(batch_shape[1:] + event_shape).expand(batch_shape + event_shape)
    return started
