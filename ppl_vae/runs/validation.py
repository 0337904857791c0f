"""One validation of a run, before anything is written or launched: the run's pair is built on its data (their
shapes, classes and kind), its traces are checked against the guide, the objectives and the scheme, its scheme's
batches are drawn, and one training step and one evaluation are taken on two data points, all on a pair of its own
that is then thrown away. What cannot train is refused in one line (a ValueError) that names the flags; a user's
own code that raises is left to raise, its traceback intact (variants.user_frame says where).
"""
import contextlib
import logging
import warnings

import pyro
import torch

from ppl_vae import distributed, options
from ppl_vae.data import DataError
from ppl_vae.evaluate import mean_elbo, mean_reconstruction
from ppl_vae.objectives import make_elbo
from ppl_vae.pairs import check_objectives, check_pair, positional, takes_labels
from ppl_vae.runs.configuration import build, data_info, scheme_of, training_of, variant_of
from ppl_vae.train import TrainConfig, latent_weighting, objective_step
from ppl_vae.variants import user_frame

TRIAL_POINTS = 2  # data points of the traces checked and of the trial evaluation: the fewest BatchNorm accepts


class PairRefusal(ValueError):
    """A refusal of the pair, its data, scheme or processes, whatever the objective: a run with another --elbo is
    refused alike."""


def validate(config, data, processes=None):
    """Refuse, in one line, a run of `config` on `data` (a loaded Dataset) that could not train, data-parallel over
    Lightning's `processes` where given: a PairRefusal where the objective is not to blame, else a ValueError.
    Returns None when it can train."""
    variant = variant_of(config)
    info = data_info(config, data)
    if variant.takes != info.kind:
        dataset = config["data"]["dataset"]
        instead = "--dataset ptb or a corpus folder" if variant.takes == "sentences" else \
            "--dataset mnist, an .npz or a folder of images"
        raise PairRefusal(f"--model {config['variant']} reads {variant.takes}; --dataset {dataset} holds {info.kind} "
                          f"(use {instead})")
    train_cfg = options.make(TrainConfig, config["train"], "training")
    with refusal(config, PairRefusal):
        model, guide = build(config, info, data.images["train"].device)
        training = training_of(config, model, guide, data)
        if processes is not None:
            why = distributed.shardable(training, data)
            if why:
                raise ValueError(f"--devices {processes}: the training of --model {config['variant']} cannot be "
                                 f"shared among processes: {why}")
        batch = next(training.batches("valid", TRIAL_POINTS, shuffle=False))
        check_arguments(model, guide, batch, scheme_of(config, model).name)
        check_pair(model, guide, batch)
    with refusal(config, ValueError):
        objectives = {"--elbo": train_cfg.elbo, "--guide-objective": train_cfg.guide_objective}
        check_objectives(guide, batch, {flag: name for flag, name in objectives.items() if name})
        trial(model, guide, training, train_cfg, len(data.images["train"]))


def check_arguments(model, guide, batch, scheme):
    """That the programs take the arguments the scheme gives them: (images,), or (images, labels)."""
    given = "(images, labels)" if len(batch) > 1 else "images alone"
    for what, program in (("model", model), ("guide", guide)):
        required, accepted = positional(program)
        if len(batch) > accepted:
            fix = "a guide that reads them too, --guide conditional" if takes_labels(model) else "--scheme plain"
            raise ValueError(f"--scheme {scheme} gives the programs {given}; the {what} takes images alone (use "
                             f"{fix})")
        if len(batch) < required:
            raise ValueError(f"the {what} requires each image's label; --scheme {scheme} gives the programs {given} "
                             "(use --scheme labelled)")


def trial(model, guide, training, cfg, dataset_size):
    """One step of the run's training (on TRIAL_POINTS data points of its first batch), Pyro's checks on as on an
    epoch's first step; a step of its pretraining if it has one; and the per-epoch evaluation of the validation ELBO,
    on as many."""
    pyro.clear_param_store()
    model.train()
    guide.train()
    with pyro.validation_enabled(True):
        if training.pretraining:
            pretraining = training.pretraining
            pretraining.loss(model, guide, first_points(pretraining.batches(cfg.batch_size))).backward()
        step_loss = objective_step(model, guide, cfg, training, dataset_size, latent_weighting(cfg)[1])
        step_loss(first_points(training.steps(cfg.batch_size)))
        model.eval()
        guide.eval()
        batches = [next(training.batches("valid", TRIAL_POINTS, False))]
        mean_elbo(model, guide, batches, make_elbo(cfg.elbo))
        mean_reconstruction(model, guide, batches)


def first_points(batches):
    """TRIAL_POINTS data points of the first of `batches`: each of its tensors cut to as many."""
    return tuple(tensor[:TRIAL_POINTS] for tensor in next(iter(batches)))


def run_flags(config, objectives=True):
    """The flags that name the run's pair and scheme, and its objectives, as a refusal names them."""
    train = config["train"]
    named = [f"--model {config['variant']}", f"--guide {config['guide']['name']}" if config["guide"]["name"] else "",
             f"--scheme {config['scheme']['name']}" if config["scheme"]["name"] else ""]
    if objectives:
        named += [f"--elbo {train['elbo']}",
                  f"--guide-objective {train['guide_objective']}" if train.get("guide_objective") else "",
                  f"--num-particles {train['num_particles']}" if train["num_particles"] > 1 else ""]
    return " ".join(flag for flag in named if flag)


@contextlib.contextmanager
def refusal(config, kind):
    """What is raised in the block, as a refusal of `kind` (PairRefusal: the objectives are not to blame, and not
    named) in one line that names the run's flags first: the first line of the message (Pyro appends its table of
    trace shapes below it), and for what the library raises, the exception's type. Whatever a user's code
    raises passes untouched."""
    pyro_log = logging.getLogger("pyro")
    level = pyro_log.level
    try:
        with warnings.catch_warnings():  # Pyro's warnings and notes, of a pair about to be refused; training
            warnings.simplefilter("ignore")  # gives them again
            pyro_log.setLevel(logging.WARNING)
            yield
    except Exception as error:
        if user_frame(error) is not None:
            raise
        flags, first = run_flags(config, objectives=kind is not PairRefusal), first_line(error)
        if isinstance(error, (DataError, OSError, ValueError)) and raised_by_us(error):
            raise kind(first if first.startswith("--") else f"{flags}: {first}") from None  # (it names its flags)
        if isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in first:
            raise kind(f"{flags}: its networks or a step's tensors do not fit in memory (a size option too large?)")
        raise kind(f"{flags}: cannot train: {type(error).__name__}: {first}") from None
    finally:
        pyro_log.setLevel(level)


def raised_by_us(error):
    """Whether the innermost frame of the error's traceback is the project's code."""
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals.get("__name__", "").startswith("ppl_vae")


def first_line(error):
    return (str(error).strip().splitlines() or [""])[0]
