"""Stochastic variational inference for any (model, guide) pair: epochs of steps on a Pyro ELBO, progress,
metrics and checkpoints in the run folder, resumable to the same numbers."""
import math
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

import pyro
import torch
from pyro.poutine.messenger import Messenger
from tqdm import tqdm

from ppl_vae import distributed, options, rundir
from ppl_vae.evaluate import mean_elbo, mean_reconstruction
from ppl_vae.objectives import GUIDE_OBJECTIVES, OBJECTIVES, make_elbo, options_of, summaries
from ppl_vae.options import Options, option

PRIORS = ("normal", "none")
KL_SCHEDULES = ("linear", "sigmoid")


@dataclass
class TrainConfig(Options):
    epochs: int = option(10, "epochs in all (with --resume: extend the run to this many)", minimum=1, resumable=True)
    batch_size: int = option(100, "images per SVI step", minimum=1)
    lr: float = option(1e-3, "Adam learning rate", above=0)
    adam_beta1: float = option(0.9, "Adam's beta_1, the decay of its running mean of the gradients (Pyro's M2 "
                               "example runs 0.95)", minimum=0, maximum=0.999)
    elbo: str = option("meanfield", summaries(), choices=list(OBJECTIVES))
    # Lopez et al. 2018's objective matrix: the model's parameters step on --elbo, the guide's on this
    guide_objective: str | None = option(None, "the guide's objective, if other than --elbo's: the model's "
                                         "parameters then step on --elbo's gradients and the guide's on this one's, "
                                         "both on the same draws", choices=GUIDE_OBJECTIVES)
    num_particles: int = option(1, "samples of z per image in each gradient estimate, vectorized (k of the IWAE "
                                "bound)", minimum=1)
    beta: float = option(1.0, "weight of the KL term (beta-VAE, Higgins et al. 2017); 1 gives the ELBO", minimum=0)
    kl_anneal: int = option(0, "steps over which the KL weight rises from 0 to beta (Bowman et al. 2016)",
                            minimum=0)
    kl_schedule: str = option("linear", "how the KL weight rises over --kl-anneal steps: linear, or sigmoid (Bowman "
                              "et al.'s logistic curve, centred half way)", choices=KL_SCHEDULES)
    kl_steepness: float = option(10.0, "with --kl-schedule sigmoid: the logistic's slope times --kl-anneal (the weight "
                                 "at step t is beta / (1 + exp(-s (t / anneal - 1/2))); timbmg/Sentence-VAE's k = "
                                 "0.0025, x0 = 2500 is --kl-anneal 5000 --kl-steepness 12.5)", above=0)
    # beta-TCVAE (Chen et al. 2018, eq. 4): beta-TCVAE's beta is --tc-weight; alpha and gamma are usually left at 1
    mi_weight: float = option(1.0, "with --elbo tcvae: weight alpha of the index-code mutual information I_q(z; n)",
                              minimum=0, objective="tcvae")
    tc_weight: float = option(1.0, "with --elbo tcvae: weight beta of the total correlation KL(q(z) || prod_j "
                              "q(z_j)) (beta-TCVAE's beta)", minimum=0, objective="tcvae")
    dim_kl_weight: float = option(1.0, "with --elbo tcvae: weight gamma of the dimension-wise KL sum_j KL(q(z_j) || "
                                  "p(z_j))", minimum=0, objective="tcvae")
    prior: str = option("normal", "none: the KL term weighted 0, leaving the reconstruction (with the point-mass "
                        "guide, whose log q is 0, exactly log p(z) left out: the plain autoencoder)", choices=PRIORS)

    def __post_init__(self):
        super().__post_init__()
        if self.kl_steepness != 10.0 and self.kl_schedule != "sigmoid":
            raise ValueError(f"--kl-steepness {self.kl_steepness:g}: shapes the sigmoid warm-up only; this run's is "
                             f"{self.kl_schedule} (add --kl-schedule sigmoid)")
        # an option of another objective, changed: a run meant as beta-TCVAE would train as a plain VAE, say
        for flags, name, f, _ in options.fields(TrainConfig):
            owner, value = f.metadata["objective"], getattr(self, name)
            if owner and owner != self.elbo and value != options.default_of(f):
                raise ValueError(f"{options.primary(flags)} {options.shown(value)}: an option of --elbo {owner}; this "
                                 f"run's ELBO is {self.elbo} (add --elbo {owner})")


def progress(total, desc, unit="img", disable=False):
    """A progress bar over `total` images (or other units) on stderr: live on a terminal; redirected to a file, a
    line every 30 s (tqdm's redraws would fill it with frames)."""
    interval = 0.1 if sys.stderr.isatty() else 30.0
    return tqdm(total=total, desc=desc, unit=unit, mininterval=interval, maxinterval=max(interval, 10.0),
                disable=disable)


class ScaleLatents(Messenger):
    """poutine.scale restricted to latent (unobserved) sample sites. Applied to both model and guide it multiplies
    log p(z) and log q(z | x), so the ELBO's KL term is scaled and the likelihood term is not (beta-VAE). Unlike
    poutine.scale, the weight may be 0 (the start of KL annealing; no prior) and may change between steps."""

    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def _process_message(self, msg):
        if msg["type"] == "sample" and not msg["is_observed"]:
            msg["scale"] = self.weight * msg["scale"]


def kl_weight(step, beta, anneal_steps, schedule="linear", steepness=10.0):
    """The KL term's weight at SVI step `step` (counted from 0): a warm-up from 0 to beta over the first
    `anneal_steps` steps, then beta (Bowman et al. 2016, sec. 3.1). linear: beta * step / anneal_steps; sigmoid:
    beta * logistic(steepness (step / anneal_steps - 1/2)), with steepness 10 from 0.007 beta at the start to 0.993
    beta at the end."""
    if not anneal_steps or step >= anneal_steps:
        return beta
    if schedule == "sigmoid":
        return beta / (1 + math.exp(-steepness * (step / anneal_steps - 0.5)))
    return beta * step / anneal_steps


def latent_weighting(cfg: TrainConfig):
    """The weight of the KL term, and the messenger that applies it to the latent sites of model and guide (its
    weight then follows kl_weight step by step). Without the prior the whole KL term, log p(z) - log q(z | x), is
    weighted 0: TraceMeanField_ELBO computes it in closed form and scales it by the guide's scale, so the model's
    log p(z) cannot be dropped alone. With the point-mass guide, whose log q is 0, that leaves out exactly log p(z)."""
    beta = cfg.beta if cfg.prior == "normal" else 0.0
    return beta, ScaleLatents(beta)


def make_optimizer(model, guide, lr, beta1=0.9):
    # One fused Adam over all parameters: the default Adam's per-parameter loop costs about 0.6 ms a step here, more
    # than half of what Pyro's tracing costs (bench/throughput.py).
    # A network shared by the two programs (the Ladder VAE's top-down path) is counted once.
    # A program may give some of its networks Adam settings of their own, as parameter groups: `optimizer_groups()`
    # (FactorVAE's discriminator).
    parameters = list(dict.fromkeys([*model.parameters(), *guide.parameters()]))
    groups = [group for program in (model, guide) for group in getattr(program, "optimizer_groups", list)()]
    own = {id(p) for group in groups for p in group["params"]}
    return torch.optim.Adam([{"params": [p for p in parameters if id(p) not in own]}, *groups], lr=lr,
                            betas=(beta1, 0.999), fused=True)


def split_step(model_step, guide_step, model, guide):
    """One step whose gradients are the model objective's for the model's parameters (a network the guide shares,
    as the Ladder VAE's top-down path, counts as the model's) and the guide objective's for the guide's, the two
    losses computed on the same draws (the RNG replayed for the second); the loss is the model objective's."""
    model_params = list(model.parameters())
    every_param = list(dict.fromkeys([*model_params, *guide.parameters()]))
    devices = list(range(torch.cuda.device_count()))

    def step(batch):
        with torch.random.fork_rng(devices):  # the RNG as it was before the block, after it
            loss = model_step(batch)
        model_grads = [p.grad for p in model_params]
        for p in every_param:
            p.grad = None
        guide_step(batch)
        for p, grad in zip(model_params, model_grads):
            p.grad = grad
        return loss

    return step


def elbo_step(model, guide, elbo):
    """The loss of an SVI step on a batch (a tuple of the programs' arguments): -ELBO, its gradients accumulated."""
    return lambda batch: elbo.loss_and_grads(model, guide, *batch)


def objective_step(model, guide, cfg, training, dataset_size, latent_scale):
    """The training step (batch -> loss, gradients left) of the run's scheme (`training.step`) on its objectives:
    --elbo's, or with --guide-objective the two split (split_step); the latent sites weighted by `latent_scale`."""
    elbo = make_elbo(cfg.elbo, cfg.num_particles, **options_of(cfg.elbo, cfg, dataset_size))
    step_loss = training.step(latent_scale(model), latent_scale(guide), elbo)
    if cfg.guide_objective:
        guide_elbo = make_elbo(cfg.guide_objective, cfg.num_particles)
        step_loss = split_step(step_loss, training.step(latent_scale(model), latent_scale(guide), guide_elbo),
                               model, guide)
    return step_loss


@dataclass
class Pretraining:
    """Epochs before SVI's, each an epoch of `fit` (its progress, NaN stop, checkpoint and exact resume): an Adam of
    their own, at learning rate `lr` (None: the run's), steps on `loss(model, guide, batch)` (a tensor) over
    `batches(batch_size)`; after the last, `finish(model, guide)` sets SVI's starting point (VaDE's:
    the mixture at the k-means clusters of the codes)."""
    epochs: int
    loss: Callable
    batches: Callable
    finish: Callable
    lr: float | None = None


@dataclass
class Training:
    """Where a pair's training differs from SVI on batches of images. `batches(split, batch_size, shuffle)`
    yields tuples of the programs' arguments (by default (images,)); `step_batches(batch_size)`, the batches of the
    training steps, if other than those of the training split; `step(model, guide, elbo)` gives the loss of one
    step (batch -> loss, gradients left); `validate(model, guide)` adds metrics after each epoch, and `select` names
    the one that picks the best epoch; `before_step(step)` runs before each step, numbered over the whole run;
    `pretraining`, epochs before SVI's (Pretraining)."""
    batches: Callable
    step_batches: Callable | None = None
    step: Callable = elbo_step
    validate: Callable | None = None
    select: str | None = None
    before_step: Callable | None = None  # (the run's step number) -> None, before each step: a schedule
    pretraining: Pretraining | None = None

    def steps(self, batch_size):
        return self.step_batches(batch_size) if self.step_batches else self.batches("train", batch_size)


def train_epoch(step_loss, optimizer, batches, progress=None, before_step=None, reduce=None, shown="elbo"):
    """One pass of SVI steps over `batches`; returns the mean training objective per image (of each batch's first
    argument: the ELBO if beta = 1, the IWAE bound with the iwae ELBO; minus the loss) and the number of steps.
    `step_loss(batch)` returns the loss and leaves its gradients; `before_step(i)` is called before the i-th step of
    the epoch; `reduce(total, count)` adds the objective and the images over the processes of a data-parallel run;
    `shown`: the objective's name on the progress bar ("loss": the loss itself)."""
    total, count, step = 0.0, 0, -1
    for step, batch in enumerate(batches):
        if before_step is not None:
            before_step(step)
        # Pyro's checks of site shapes and distribution arguments run on each epoch's first step; off after it,
        # as they cost about 8% of a step (bench/throughput.py).
        with pyro.validation_enabled(step == 0):
            loss = step_loss(batch)
        if not math.isfinite(loss):  # stop before the step spreads it to every parameter
            raise FloatingPointError(f"the loss is {loss} at step {step + 1} of the epoch")
        total -= loss
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        count += len(batch[0])
        if progress is not None:
            progress.update(len(batch[0]))
            if step % 20 == 0:
                progress.set_postfix({shown: f"{(-total if shown == 'loss' else total) / count:.2f}"}, refresh=False)
    if reduce is not None:
        total, count = reduce(total, count)
    return total / count, step + 1


def fit(model, guide, data, cfg: TrainConfig, run_dir, checkpoint=None, training=None, fabric=None, seed=0):
    """Train for cfg.epochs epochs (in all, after the pretraining's epochs if training has one), writing
    metrics.jsonl and checkpoint.pt into run_dir after each epoch, and best.pt whenever the metric that
    `training.select` names is the best so far. `training`: see Training; by default SVI on the training images.

    The caller seeds the RNG before building the networks. Given `checkpoint` (the run's, rundir.load_checkpoint,
    whose networks the caller has loaded into model and guide), the optimizer and the RNG continue from it, so an
    interrupted run ends with the same numbers as an uninterrupted one. Given Lightning's `fabric`, the steps are
    data-parallel over its processes (ppl_vae/distributed.py), each epoch's draws seeded from `seed`; the first
    process validates and writes.
    """
    pyro.clear_param_store()  # the modules hold the parameters; the store only names them
    training = training or Training(data.batches)
    pretraining = training.pretraining
    before = pretraining.epochs if pretraining else 0  # the pretraining's epochs, numbered first
    beta, latent_scale = latent_weighting(cfg)
    step_loss = objective_step(model, guide, cfg, training, len(data.images["train"]), latent_scale)
    optimizer = make_optimizer(model, guide, cfg.lr, cfg.adam_beta1)
    pretrainer = make_optimizer(model, guide, pretraining.lr or cfg.lr, cfg.adam_beta1) if pretraining else None
    lead = fabric is None or fabric.is_global_zero
    if fabric is not None:
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        step_loss = distributed.GradientSum(fabric, step_loss, parameters)
    metrics, steps_done = [], 0
    if checkpoint is not None:
        epoch = checkpoint["epoch"]
        rundir.load_state(pretrainer if epoch < before else optimizer, checkpoint, "optimizer", run_dir)
        torch.set_rng_state(checkpoint["rng"])
        if torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
        metrics = rundir.read_metrics(run_dir)[:epoch]  # drop an epoch logged after the last checkpoint
        # (checkpoints written before the step count was saved: the epochs' steps over the training images)
        steps_done = checkpoint.get("step", epoch * math.ceil(len(data.images["train"]) / cfg.batch_size))
    for epoch in range(len(metrics) + 1, before + cfg.epochs + 1):
        start = time.perf_counter()
        model.train()
        guide.train()
        if epoch <= before:
            metrics.append({"epoch": epoch, "pretraining_loss": pretrain_epoch(model, guide, data, cfg, pretraining,
                                                                                pretrainer, epoch),
                            "seconds": time.perf_counter() - start})
            if epoch == before:
                pretraining.finish(model, guide)
        else:

            def before_step(step):
                latent_scale.weight = kl_weight(steps_done + step, beta, cfg.kl_anneal, cfg.kl_schedule,
                                                cfg.kl_steepness)
                if training.before_step:
                    training.before_step(steps_done + step)

            if fabric is None:
                batches, reduce = training.steps(cfg.batch_size), None
            else:
                permutation = distributed.seed_epoch(seed, epoch, fabric.global_rank)
                batches = distributed.shard_batches(data, cfg.batch_size, fabric.global_rank, fabric.world_size,
                                                    permutation)
                reduce = partial(distributed.sum_over_processes, fabric)
            share = len(data.images["train"]) // (fabric.world_size if fabric else 1)  # the images this process scores
            with progress(share, f"epoch {epoch - before}/{cfg.epochs}", disable=not lead) as bar:
                train_elbo, steps = train_epoch(step_loss, optimizer, batches, bar, before_step, reduce)
                steps_done += steps
                if not lead:
                    continue
                model.eval()
                guide.eval()
                # the ELBO (one particle) whatever the training objective, so that runs compare
                valid_elbo = mean_elbo(model, guide, training.batches("valid", cfg.batch_size, False),
                                       make_elbo(cfg.elbo))
                valid_recon = mean_reconstruction(model, guide, training.batches("valid", cfg.batch_size, False))
                extra = training.validate(model, guide) if training.validate else {}
                bar.set_postfix(elbo=f"{train_elbo:.2f}", valid=f"{valid_elbo:.2f}", recon=f"{valid_recon:.2f}",
                                **{name: f"{value:.4g}" for name, value in extra.items()})
            metrics.append({"epoch": epoch, "train_elbo": train_elbo, "valid_elbo": valid_elbo,
                            "valid_recon": valid_recon, **extra, "kl_weight": latent_scale.weight,
                            "seconds": time.perf_counter() - start})
        rundir.write_metrics(run_dir, metrics)
        weights = {"model": model.state_dict(), "guide": guide.state_dict()}
        rundir.save_checkpoint(run_dir, {
            "epoch": epoch,
            "step": steps_done,
            **weights,
            "optimizer": (pretrainer if epoch < before else optimizer).state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        })
        selected = [m[training.select] for m in metrics if training.select in m] if training.select else []
        if selected and metrics[-1].get(training.select) == max(selected):
            rundir.save_checkpoint(run_dir, {"epoch": epoch, **weights}, rundir.BEST)
    return metrics


def pretrain_epoch(model, guide, data, cfg, pretraining, optimizer, epoch):
    """One epoch of the pretraining's loss; returns its mean per image."""

    def step_loss(batch):
        loss = pretraining.loss(model, guide, batch)
        loss.backward()
        return loss.item()

    with progress(len(data.images["train"]), f"pretraining {epoch}/{pretraining.epochs}") as bar:
        mean, _ = train_epoch(step_loss, optimizer, pretraining.batches(cfg.batch_size), bar, shown="loss")
    return -mean
