"""The training objectives by name (--elbo, --guide-objective), each an entry that says how to make it and what it
needs of a pair: Pyro's ELBOs, the importance-weighted bound, beta-TCVAE's decomposed ELBO and reweighted wake-wake.
An option of one objective (a config field whose metadata names it, e.g. --tc-weight) reaches its ELBO as a keyword."""
from dataclasses import dataclass
from functools import partial
from typing import Callable

from pyro.infer import RenyiELBO, Trace_ELBO, TraceEnum_ELBO, TraceMeanField_ELBO

from ppl_vae import decomposition, options, wake


@dataclass(frozen=True)
class Objective:
    make: Callable  # (num_particles=, vectorize_particles=, **its options) -> a Pyro ELBO (loss, loss_and_grads)
    summary: str
    for_guide: bool = True  # may be the guide's own objective (--guide-objective)
    dataset_size: bool = False  # takes the training set's size (an estimate of q(z) over the data)
    needs: Callable | None = None  # (the guide's trace) -> why this pair cannot be trained on it, or None


OBJECTIVES = {
    "trace": Objective(Trace_ELBO, "Trace_ELBO (Monte Carlo KL)"),
    "meanfield": Objective(TraceMeanField_ELBO, "TraceMeanField_ELBO (analytic KL where it exists)",
                           needs=decomposition.unreparameterized),
    # the importance-weighted bound of Burda et al. 2015 (eq. 8) is the Renyi bound at alpha = 0 (Li & Turner 2016);
    # with one particle it is the ELBO
    "iwae": Objective(partial(RenyiELBO, alpha=0), "the importance-weighted bound on --num-particles samples "
                      "(RenyiELBO, alpha=0)"),
    # the pairs' plates are one deep
    "enum": Objective(partial(TraceEnum_ELBO, max_plate_nesting=1), "TraceEnum_ELBO, discrete sites summed"),
    # its weights are --elbo's, so it is not a guide's objective of its own
    "tcvae": Objective(decomposition.TotalCorrelationELBO, "the ELBO with its KL term's three parts weighted by "
                       "--mi-weight, --tc-weight, --dim-kl-weight (beta-TCVAE, Chen et al. 2018)", for_guide=False,
                       dataset_size=True, needs=decomposition.unreparameterized),
    "wake": Objective(wake.WakeWake, "reweighted wake-wake on --num-particles draws per image (wake-theta for the "
                      "model, wake-phi for the guide)", needs=wake.enumerated),
}
GUIDE_OBJECTIVES = [name for name, objective in OBJECTIVES.items() if objective.for_guide]


def make_elbo(name, num_particles=1, **options):
    """An objective by name; `options`: its own (dataset_size and the weights of the KL term's parts, for tcvae)."""
    return OBJECTIVES[name].make(num_particles=num_particles, vectorize_particles=num_particles > 1, **options)


def options_of(name, config, dataset_size):
    """What make_elbo needs beyond the name for objective `name`: the fields of `config` (a TrainConfig) that are
    its options, and the training set's size if it takes it."""
    own = {field: getattr(config, field) for _, field, f, _ in options.fields(type(config))
           if f.metadata["objective"] == name}
    return {**own, "dataset_size": dataset_size} if OBJECTIVES[name].dataset_size else own


def summaries():
    return "; ".join(f"{name}: {objective.summary}" for name, objective in OBJECTIVES.items())
