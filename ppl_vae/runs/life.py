"""A run's life: training into a run folder (a new run, or one resumed from its checkpoint), its pictures, and
reading a trained run back."""
import math
import shutil
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyro
import torch

from ppl_vae import evaluate, options, plots, rundir
from ppl_vae.data import DataConfig, Dataset
from ppl_vae.options import Options, option
from ppl_vae.pairs import class_site, takes_labels
from ppl_vae.runs.configuration import (build, data_info, is_user_pair, load_config, scheme_of, training_of,
                                        variant_of)
from ppl_vae.runs.validation import validate
from ppl_vae.text import VOCABULARY, TextDataset, Vocabulary, is_text, sample_sentences
from ppl_vae.train import TrainConfig, fit


DEVICES = ("auto", "cpu", "cuda")


@dataclass
class DeviceConfig(Options):
    device: str = option("auto", "where the tensors live (auto: cuda if there is one); with --devices, Lightning's "
                         "accelerator", flag=("--device", "--accelerator"), choices=DEVICES, resumable=True)


@dataclass
class SampleConfig(Options):
    n: int | None = option(None, "number of samples (default 64); for a model with classes, per class (default 8)",
                           flag="-n", minimum=1)
    output: str | None = option(None, "PNG to write (default RUN_DIR/samples-seedS.png)", flag=("-o", "--output"),
                                metavar="PNG")
    seed: int = option(0, "seed of the draws")
    label: list[int] | None = option(None, "a model with classes: one row of -n samples for each of these (default "
                                     "all)", minimum=0, metavar="Y")
    temperature: float = option(1.0, "sentences: the drawn words' softmax temperature", above=0)


def resolve_device(name):
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to this torch build; use --device cpu or auto")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def new_run_dir(run_dir, overwrite=False):
    run_dir = Path(run_dir)
    if run_dir.exists():
        if not overwrite:
            raise FileExistsError(f"{run_dir} exists; pick another --name, --resume it, or pass --overwrite")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    return run_dir


def default_name(config):
    variant = Path(config["variant"].rsplit(":", 1)[0]).stem if is_user_pair(config["variant"]) else config["variant"]
    return f"{variant}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(config, run_dir, device="auto", resume=False, overwrite=False, fabric=None):
    """Train the configuration's pair into `run_dir` (or, resume=True, continue the run there from its checkpoint, to
    config["train"]["epochs"] epochs in all): config.json, metrics.jsonl, checkpoints, pictures. Returns the run
    folder. This is what `run.py train` does. With Lightning's `fabric`, data-parallel over its processes: every
    process validates the run (runs/validation.py) before the first writes anything, so a refusal stops them all,
    and the first process writes."""
    device = fabric.device if fabric else resolve_device(device) if isinstance(device, str) else device
    lead = fabric is None or fabric.is_global_zero
    train_cfg = options.make(TrainConfig, config["train"], "training")
    if not resume:
        rundir.check_creatable(run_dir)
    data = load_data(config, device)
    validate(config, data, fabric.world_size if fabric else None)
    model, guide = build(config, data_info(config, data), device)
    training = training_of(config, model, guide, data)
    checkpoint = rundir.load_checkpoint(run_dir) if resume else None
    if resume:  # into these programs before anything in the folder is rewritten; fit continues from it
        for module, key in ((model, "model"), (guide, "guide")):
            rundir.load_state(module, checkpoint, key, run_dir)
    if fabric:
        fabric.barrier()  # every process has checked; now the first one writes
    if lead:
        run_dir = Path(run_dir) if resume else new_run_dir(run_dir, overwrite)
        config = {**config, "scheme": {**config["scheme"], "name": scheme_of(config, model).name},
                  "image_shape": list(data.image_shape), "num_classes": data.num_classes,
                  "versions": {"torch": torch.__version__, "pyro": pyro.__version__, "python": sys.version.split()[0]}}
        rundir.write_json(run_dir / rundir.CONFIG, config)
        if isinstance(data, TextDataset):  # the run decodes without its corpus
            data.vocabulary.save(run_dir / VOCABULARY)
        processes = f" x {fabric.world_size} processes" if fabric else ""
        print(f"run folder: {run_dir}   device: {device}{processes}   train {data.item}s: {len(data.images['train'])}")
    metrics = fit(model, guide, data, train_cfg, Path(run_dir), checkpoint, training, fabric, config["seed"])
    if lead:
        save_pictures(run_dir, config, model, guide, training, data, metrics, device)
    return run_dir


def validate_run(config, device, processes=None):
    """The run's validation (runs/validation.py) on its data, read here: what the command line does before it has
    Lightning launch `processes` processes."""
    validate(config, load_data(config, device), processes)


def save_pictures(run_dir, config, model, guide, training, data, metrics, device):
    """The curves, and samples and reconstructions (sentences for a run of sentences; for a model that declares its
    seen pixels, completions), and the pictures the pair declares."""
    plots.save_curves(run_dir / "curves.png", metrics)
    if isinstance(data, TextDataset):
        lines = sample_sentences(model, data.vocabulary, 10, data.dim, device)
        rundir.atomic_write(run_dir / "samples.txt", lambda f: f.write("\n".join(lines).encode() + b"\n"))
        return
    if len(data.image_shape) != 2:
        print(f"no samples or reconstructions: the programs' data are vectors of {data.dim} features, not images")
        return
    if hasattr(model, "seen"):  # image completion: completions of test digits rather than samples
        plots.save_completions(run_dir / "samples.png", model, data.images["test"][:8], data.image_shape)
    else:
        save_samples(run_dir / "samples.png", model, None, None, data_info(config, data), device)
    test_batch = next(training.batches("test", 32, shuffle=False))
    plots.save_reconstructions(run_dir / "reconstructions.png", model, guide, test_batch, data.image_shape)
    declared = variant_of(config).pictures
    for name, figure in (declared(model, guide, data) if declared else {}).items():
        plots.save_figure(figure, run_dir / name)


def save_samples(path, model, labels, n, data, device):
    """Samples from the model: a row of n (default 8) for each of `labels` (default all) where the model has
    classes (it requires labels, or its second argument conditions a class site), else n (default 64). `data`: the
    DataInfo the model was built for."""
    found = None if takes_labels(model) else class_site(model, data.blank(1, device)[0])
    num_classes = data.num_classes if takes_labels(model) else found[1] if found else None
    if labels and not num_classes:
        raise ValueError("--label: this model has no classes")
    data_dim = math.prod(data.image_shape)
    if not num_classes:
        plots.save_samples(path, model, n or 64, data_dim, data.image_shape, device)
        return
    labels = labels or list(range(num_classes))
    if max(labels) >= num_classes:
        raise ValueError(f"--label: classes are 0 to {num_classes - 1}, got {max(labels)}")
    plots.save_class_samples(path, model, labels, n or 8, num_classes, data_dim, data.image_shape, device)


def is_text_run(run_dir):
    return (Path(run_dir) / VOCABULARY).exists()


def load_text_run(run_dir, device):
    """A trained sentence run's config, (model, guide) and vocabulary, without its corpus."""
    if not is_text_run(run_dir):
        raise ValueError(f"{run_dir} is not a run of sentences (no {VOCABULARY} in it)")
    config, model, guide, _ = load_run(run_dir, device, with_data=False)
    return config, model, guide, Vocabulary.load(Path(run_dir) / VOCABULARY)


def load_run(run_dir, device="cpu", with_data=True):
    """A trained run's config, (model, guide) on `device` in eval mode, and its dataset. The weights are those of
    best.pt where the run has one (the epoch its validation score picked), else of the last checkpoint."""
    device = resolve_device(device) if isinstance(device, str) else device
    config = load_config(run_dir)
    best = (Path(run_dir) / rundir.BEST).exists()
    name = rundir.BEST if best else rundir.CHECKPOINT
    state = rundir.load_checkpoint(run_dir, name)
    model, guide = build(config, data_info(config), device)
    rundir.load_state(model, state, "model", run_dir, name)
    rundir.load_state(guide, state, "guide", run_dir, name)
    model.eval()
    guide.eval()
    data = load_data(config, device) if with_data else None
    return config, model, guide, data


def load_data(config, device):
    """The run's dataset as its programs see it: the images, or (--codes-of RUN_DIR: M1+M2's) the codes that the
    trained run in that folder gives them, the means of its q(z | x)."""
    data_cfg = options.make(DataConfig, config["data"], "the data")
    data = (TextDataset if is_text(data_cfg.dataset) else Dataset)(data_cfg, device, config["seed"])
    if not data_cfg.codes_of:
        return data
    source_config, _, source_guide, _ = load_run(Path(data_cfg.codes_of), device, with_data=False)
    if source_config["data"]["dataset"] != data_cfg.dataset:
        raise ValueError(f"--codes-of {data_cfg.codes_of} was trained on {source_config['data']['dataset']}, not on "
                         f"{data_cfg.dataset}")
    return data.encoded(partial(codes, source_guide), data_cfg.active_units, data_cfg.sampled_codes)


def codes(guide, images):
    """The means and standard deviations of the guide's Gaussian q(z | x) for each image."""
    means, scales = evaluate.posterior_moments(guide, ((x,) for x in images.split(1000)), "z")
    if scales is None:
        raise ValueError("--codes-of needs a run whose q(z | x) is a Gaussian of independent units")
    return means, scales
