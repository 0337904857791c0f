"""Data-parallel training and sharded likelihood evaluation on PyTorch Lightning's Fabric: Lightning launches the
processes (its own launcher on one machine, torchrun or SLURM across nodes) and sets up the process group, gloo on
CPU and nccl on GPU; this module shards the data and sums what the processes computed.

Training: every process builds the same pair (same seed) or loads the same checkpoint. Each step takes one batch of
--batch-size images, as one process would, from a permutation of the epoch that every process draws alike (seeded by
the run's seed and the epoch), each process scoring its own slice; the gradients of the slices' summed losses are added
across processes (all-reduce) before every process takes the same Adam step. The ELBO is a sum over the images of
the batch (no plate subsampling), so the summed gradient is exactly that of the whole batch: the same step as one
process on the whole batch, up to the order of floating-point sums, whenever the draws are the same. Draws (z, the
dynamic binarization) are seeded per process and epoch, so the processes draw differently and a resumed run draws
as the uninterrupted one did; since a step's images do not depend on the number of processes, a run may resume on
another number of them.

Evaluation: the test images' batches are dealt out round robin, each batch's importance samples seeded by its index,
and the per-image values gathered back in test order: the same values as one process.
"""
import logging
import math
import os
from dataclasses import dataclass

import torch

from ppl_vae.options import Options, option

# Seeds per epoch (and per process): a resumed run, on any number of processes, continues from the epoch's seeds.
EPOCH_SEED_STRIDE, RANK_SEED_STRIDE = 1_000_003, 7_919


@dataclass
class ProcessesConfig(Options):
    devices: int | None = option(None, "data-parallel over N processes per node on PyTorch Lightning (CPU processes "
                                 "on gloo, or one per GPU on nccl): training shares each step's --batch-size images "
                                 "among them, evaluate the test images' importance-weighted estimate (default: one "
                                 "process, no Lightning)", minimum=1, metavar="N", resumable=True)
    num_nodes: int = option(1, "machines, with --devices (launched by torchrun or SLURM)", minimum=1, resumable=True)
    strategy: str = option("ddp", "Lightning's strategy", choices=("ddp",), resumable=True)


def launch(devices, num_nodes=1, accelerator="cpu", strategy="ddp"):
    """Lightning's Fabric with the processes started and the process group set up; raises ValueError (one line) for
    a request this machine cannot serve."""
    try:
        from lightning.fabric import Fabric
        logging.getLogger("lightning.fabric").setLevel(logging.WARNING)  # its banner: the run's first line says it
    except ImportError:
        raise ValueError("--devices needs PyTorch Lightning: pip install lightning (or pip install -e .[distributed])")
    if accelerator == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--accelerator cuda: no CUDA device here (torch.cuda.is_available() is False)")
        if devices > torch.cuda.device_count():
            raise ValueError(f"--devices {devices}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif devices > (os.cpu_count() or 1):
        raise ValueError(f"--devices {devices}: more CPU processes than this machine's {os.cpu_count()} cores")
    try:
        fabric = Fabric(accelerator="gpu" if accelerator == "cuda" else "cpu", devices=devices, num_nodes=num_nodes,
                        strategy=strategy)
    except (ValueError, RuntimeError) as error:  # Lightning's MisconfigurationException is a ValueError
        raise ValueError(f"--strategy {strategy}: {str(error).splitlines()[0]}")
    fabric.launch()
    return fabric


def is_lead():
    """Whether this is the first process (or the only one), from the launchers' environment (torchrun's RANK,
    Lightning's LOCAL_RANK and NODE_RANK), before or without Fabric."""
    if "RANK" in os.environ:
        return os.environ["RANK"] == "0"
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def shardable(training, data):
    """Why the variant's training cannot be sharded, or None: only SVI over the training images' batches is."""
    if training.pretraining is not None:
        return "it starts from a pretraining run in one process (--pretrain 0 to skip it)"
    if training.step_batches is not None:
        return "its steps draw labelled and unlabelled batches on a schedule of their own"
    if getattr(training.batches, "__self__", None) is not data:
        return "its batches are not the training images' (labels or codes go with them)"
    return None


def seed_epoch(seed, epoch, rank):
    """The process's draws for this epoch; and the generator of the epoch's permutation, alike on every process."""
    torch.manual_seed(seed + EPOCH_SEED_STRIDE * epoch + RANK_SEED_STRIDE * (rank + 1))
    return torch.Generator().manual_seed(seed + EPOCH_SEED_STRIDE * epoch)


def shard_batches(data, batch_size, rank, world, generator):
    """This process's slices of the epoch's batches: batch t holds images order[t B : (t + 1) B] of a permutation
    every process draws alike (B = batch_size, the images of a step whatever the number of processes), and this
    process scores its W-th of them (W = world), split as evenly as they go. A last batch too small for every process
    to get an image is left out."""
    count = len(data.images["train"])
    order = torch.randperm(count, generator=generator).to(data.images["train"].device)
    for start in range(0, count, batch_size):
        batch = order[start : start + batch_size]
        if len(batch) < world:
            return
        share = batch.tensor_split(world)[rank]
        yield from data.batches("train", len(share), shuffle=False, indices=share)


class GradientSum:
    """A step (batch -> loss, gradients left) whose gradients are summed over the processes; a loss that is not
    finite on any process stops every process at the same step."""

    def __init__(self, fabric, step, parameters):
        self.fabric, self.step, self.parameters = fabric, step, parameters

    def __call__(self, batch):
        loss = self.step(batch)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.parameters]
        flat = torch.cat([g.flatten() for g in grads] + [torch.tensor([loss], device=grads[0].device)])
        flat = self.fabric.all_reduce(flat, reduce_op="sum")
        if not math.isfinite(flat[-1].item()):
            return flat[-1].item()  # train_epoch stops on it, on every process
        for p, g in zip(self.parameters, torch.split(flat[:-1], [p.numel() for p in self.parameters])):
            p.grad = g.view_as(p)
        return loss


def sum_over_processes(fabric, *numbers):
    """Numbers summed over the processes."""
    return fabric.all_reduce(torch.tensor(numbers, dtype=torch.double), reduce_op="sum").tolist()


def gather_in_order(fabric, values_by_batch, batches, batch_size, total):
    """Per-image values gathered from the processes, in test order: `values_by_batch` maps this process's batch
    indices (j = rank, rank + W, ...) to their values."""
    world = fabric.world_size
    per_process = math.ceil(batches / world)
    mine = torch.full((per_process, batch_size), math.nan, dtype=torch.double)
    for j, values in values_by_batch.items():
        mine[j // world, : len(values)] = values
    gathered = fabric.all_gather(mine)  # (processes, batches per process, batch size)
    ordered = gathered.transpose(0, 1).reshape(-1, batch_size)[:batches]  # batch j at (j % W, j // W)
    return ordered.flatten()[:total]  # only the last batch is short: its padding comes last
