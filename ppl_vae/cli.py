"""The command line: list, train, evaluate, sample, plot. Flags map onto the plain configs of data, variant and training;
a run writes its whole configuration to runs/<name>/config.json, from which it can be re-run or resumed."""
import argparse
import ctypes
import inspect
import math
import shutil
import sys
import time
from dataclasses import asdict
from functools import partial
from itertools import islice
from pathlib import Path

import numpy as np
import pyro
import torch
from pyro import poutine
from tqdm import tqdm

from ppl_vae import evaluate, plots, rundir
from ppl_vae.data import BINARIZATIONS, DataConfig, DataError, Dataset
from ppl_vae.pca import PCA
from ppl_vae.train import ELBOS, PRIORS, TrainConfig, Training, fit, make_elbo
from ppl_vae.variants import CODE_PRIORS, NETS, VARIANTS

# train flags: flag -> (config section, field, type, help); a flag left out keeps the config's value.
TRAIN_FLAGS = {
    "--epochs": ("train", "epochs", "positive", "epochs in all (with --resume: extend the run to this many)"),
    "--batch-size": ("train", "batch_size", "positive", "images per SVI step"),
    "--lr": ("train", "lr", float, "Adam learning rate"),
    "--elbo": ("train", "elbo", sorted(ELBOS), "trace: Trace_ELBO; meanfield: TraceMeanField_ELBO (analytic KL); "
               "iwae: the importance-weighted bound on --num-particles samples (RenyiELBO, alpha=0)"),
    "--num-particles": ("train", "num_particles", "positive", "samples of z per image per step, vectorized"),
    "--beta": ("train", "beta", float, "weight of the KL term (beta-VAE); 1 gives the ELBO"),
    "--kl-anneal": ("train", "kl_anneal", "natural", "steps of linear warm-up of the KL weight from 0 to beta"),
    "--prior": ("train", "prior", list(PRIORS), "none: the KL term weighted 0, leaving the reconstruction term (with "
                "--model ae, whose log q is 0, exactly log p(z) left out: the plain autoencoder)"),
    "--latent": ("model", "latent", "positive", "latent dimension"),
    "--net": ("model", "net", list(NETS), "encoder and decoder: fully connected, or (transposed) convolutions"),
    "--hidden": ("model", "hidden", "sizes", "hidden layer sizes of the encoder and decoder MLPs (--net mlp); lvae: the deterministic units of each stochastic layer"),
    "--latents": ("model", "latents", "sizes", "sizes of the stochastic layers, bottom first (z1 z2 ...)"),
    "--depth": ("model", "depth", "positive", "deterministic layers in each of the Ladder VAE's MLPs"),
    "--no-batch-norm": ("model", "batch_norm", "off", "no batch normalization in the deterministic layers"),
    "--groups": ("model", "groups", "sizes", "groups of latents per scale, coarsest first"),
    "--width": ("model", "width", "positive", "channels of the feature maps"),
    "--latent-channels": ("model", "latent_channels", "positive", "channels of each group's latent map"),
    "--cells": ("model", "cells", "positive", "residual cells per group on each side"),
    "--lower-hidden": ("model", "lower_hidden", "sizes", "hidden layers between x and z1, encoder side first"),
    "--upper-hidden": ("model", "upper_hidden", "sizes", "hidden layers between z1 and z2, encoder side first"),
    "--channels": ("model", "channels", "sizes", "channels of the convolutions, each halving the image (--net conv)"),
    "--corrupt": ("model", "corrupt", str, "denoising: the encoder sees x corrupted while training, mask:P (each "
                  "pixel zeroed with probability P) or gauss:S (Normal noise of sd S); the model scores the clean x"),
    "--code-range": ("model", "code_range", float, "codes squashed into (-R, R) by R tanh(c / R)"),
    "--labelled": ("model", "labelled", "positive", "labelled training images, as many of each class, by --seed"),
    "--labelled-batch": ("model", "labelled_batch", "positive", "labelled images in each step"),
    "--alpha": ("model", "alpha", float, "weight of the classification term alpha log q(y | x) per labelled image"),
    "--init-std": ("model", "init_std", float, "every weight and bias drawn from Normal(0, S^2) (Pyro's example: "
                   "0.001); 0: PyTorch's default"),
    "--supervised-only": ("model", "supervised_only", bool, "train on the labelled images alone: the classifier "
                          "learns from alpha log q(y | x) only, a supervised baseline"),
    "--m1": ("model", "m1", str, "M1+M2: the run folder of the trained VAE whose codes M2 sees"),
    "--quadrants": ("model", "quadrants", "positive", "image completion: quadrants seen, 1, 2 or 3"),
    "--variables": ("model", "variables", "positive", "categorical latent variables"),
    "--classes": ("model", "classes", "positive", "values of each categorical latent"),
    "--straight-through": ("model", "straight_through", bool, "the straight-through relaxation: one-hot samples "
                           "forward, the relaxed gradient backward"),
    "--temperature": ("model", "temperature", float, "the relaxation's temperature at the start"),
    "--min-temperature": ("model", "min_temperature", float, "the temperature's floor"),
    "--anneal-rate": ("model", "anneal_rate", float, "r in temperature = max(floor, start exp(-r t)); 0: fixed"),
    "--anneal-every": ("model", "anneal_every", "positive", "steps between updates of the temperature"),
    "--clusters": ("model", "clusters", "positive", "values of the mixture's cluster y"),
    "--uniform-weights": ("model", "learn_weights", "off", "uniform mixture weights, not learned"),
    "--codes": ("model", "codes", "positive", "K, the codebook's size"),
    "--code-dim": ("model", "code_dim", "positive", "D, the numbers in each code vector"),
    "--commitment": ("model", "beta", float, "the weight of the commitment term (the paper's beta)"),
    "--ema-decay": ("model", "ema_decay", float, "> 0: the codebook follows moving averages of the encoder outputs "
                    "with this decay (0.99 in the paper), not gradients"),
    "--code-prior": ("model", "code_prior", list(CODE_PRIORS), "the prior over the grid of codes"),
    "--prior-width": ("model", "prior_width", "positive", "channels of the PixelCNN prior"),
    "--prior-layers": ("model", "prior_layers", "positive", "masked convolutions of the PixelCNN prior"),
    "--dataset": ("data", "dataset", str, "mnist | PATH.npz | IDX_FOLDER | torchvision:NAME"),
    "--binarize": ("data", "binarize", list(BINARIZATIONS), "pixels to 0/1: fresh per batch, drawn once, or not"),
    "--train-on-valid": ("data", "train_on_valid", bool, "train on train + validation images (60k for MNIST)"),
    "--subset": ("data", "subset", "positive", "keep only the first N images of each split"),
    "--download": ("data", "download", bool, "let torchvision download its dataset (online only)"),
    "--data-root": ("data", "root", str, "folder for torchvision's files"),
}
PLOT_KINDS = {
    "latent": "codes of the test digits colored by digit (2-D, else their first two principal components)",
    "manifold": "images decoded from a grid of 2-D codes through the inverse normal CDF",
    "traversal": "one row per most active latent unit, swept from -3 to 3 around a test digit's code",
    "interpolation": "images decoded along straight lines between the codes of pairs of test digits",
    "samples": "means of p(x | z) for z from the prior",
    "analogies": "class-conditional models (cvae, m2): test digits, each beside its style z decoded with y = 0..9",
    "layers": "each latent site's KL term and fraction of active units, a row for each run",
}
PCA_KINDS = ("latent", "interpolation")
CODE_KINDS = ("latent", "manifold", "traversal", "interpolation")  # pictures of the codes z of a one-layer model
LAYER_IMAGES, LAYER_PARTICLES = 1000, 100  # what evaluate's per-layer KL and active units are estimated from
RESUMABLE = {"epochs", "device"}  # what may change when a run is resumed
DEFAULT_VARIANT = "vae"


def at_least(minimum):
    def integer(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text}")
        return value
    return integer


positive, natural = at_least(1), at_least(0)


def add_flag(parser, flag, kind, help):
    if kind is bool:
        parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=help)
    elif kind == "off":
        parser.add_argument(flag, action="store_false", default=argparse.SUPPRESS, help=help)
    elif isinstance(kind, list):
        parser.add_argument(flag, choices=kind, default=argparse.SUPPRESS, help=help)
    elif kind == "sizes":
        parser.add_argument(flag, type=positive, nargs="+", default=argparse.SUPPRESS, help=help)
    else:
        parser.add_argument(flag, type={"positive": positive, "natural": natural}.get(kind, kind),
                            default=argparse.SUPPRESS, help=help)


def variants_with(field):
    return [name for name, variant in VARIANTS.items() if field in variant.config.__dataclass_fields__]


def build_parser():
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the variants, one per line")

    train_cmd = commands.add_parser("train", help="train a variant; writes runs/<name>/")
    train_cmd.add_argument("--model", choices=sorted(VARIANTS), default=argparse.SUPPRESS,
                           help=f"variant (default {DEFAULT_VARIANT})")
    defaults = default_config(DEFAULT_VARIANT)
    for flag, (section, field, kind, help) in TRAIN_FLAGS.items():
        if field in defaults[section]:
            add_flag(train_cmd, flag, kind, f"{help} (default {defaults[section][field]})")
        else:
            add_flag(train_cmd, flag, kind, f"{help} (--model {' | '.join(variants_with(field))})")
    train_cmd.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="seed of networks, batches, samples")
    train_cmd.add_argument("--config", type=Path, help="start from this config.json (flags override it)")
    train_cmd.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its last checkpoint")
    train_cmd.add_argument("--name", help="run folder name (default <model>-<date>-<time>)")
    train_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default runs/)")
    train_cmd.add_argument("--overwrite", action="store_true", help="replace an existing run folder of the same name")

    evaluate_cmd = commands.add_parser("evaluate", help="reconstruction, ELBO and importance-weighted NLL of a "
                                       "trained run")
    evaluate_cmd.add_argument("run_dir", type=Path)
    evaluate_cmd.add_argument("--iw-samples", type=natural, default=5000,
                              help="k, importance samples per test image for log p(x) (default 5000, the papers' "
                                   "protocol; 0: the ELBO alone)")
    evaluate_cmd.add_argument("--chunk-size", type=positive, default=1000,
                              help="importance samples per pass: memory grows with chunk size x batch size "
                                   "(default 1000)")
    evaluate_cmd.add_argument("--test-images", type=positive, metavar="N",
                              help="log p(x) of the first N test images only (default all): for models whose k "
                                   "samples of every test image would take too long")
    evaluate_cmd.add_argument("--iw-batch-size", type=positive, default=10, help="test images per pass (default 10)")
    sample_cmd = commands.add_parser("sample", help="draw images from a trained run's model")
    sample_cmd.add_argument("run_dir", type=Path)
    sample_cmd.add_argument("-n", type=positive, help="number of samples (default 64); for a model with classes, "
                            "per class (default 8)")
    sample_cmd.add_argument("-o", "--output", type=Path, help="PNG to write (default RUN_DIR/samples.png)")
    sample_cmd.add_argument("--label", type=natural, nargs="+", metavar="Y",
                            help="a model with classes: one row of -n samples for each of these (default all)")
    plot_cmd = commands.add_parser("plot", help="pictures of trained runs side by side, one panel per run")
    plot_cmd.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    plot_cmd.add_argument("--kind", choices=PLOT_KINDS, required=True,
                          help="; ".join(f"{kind}: {text}" for kind, text in PLOT_KINDS.items()))
    plot_cmd.add_argument("--pca", action="store_true",
                          help="add a PCA panel fitted on the first run's training images (kinds latent, interpolation)")
    plot_cmd.add_argument("-o", "--output", type=Path, help="PNG to write (default FIRST_RUN_DIR/KIND.png)")
    for command in (train_cmd, evaluate_cmd, sample_cmd, plot_cmd):
        command.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    return parser


def resolve_device(name):
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to this torch build; use --device cpu or auto")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def default_config(variant_name):
    variant = VARIANTS[variant_name]
    return {"variant": variant_name, "seed": 0, "model": asdict(variant.config()), "data": asdict(DataConfig()),
            "train": asdict(TrainConfig(**variant.train_defaults))}


def train_config(args):
    """The run's configuration: defaults (or --config), then the flags given on the command line."""
    given = vars(args)
    if args.config:
        config = rundir.read_json(args.config)
        if "model" in given and given["model"] != config["variant"]:  # another variant: its own network defaults
            config["variant"], config["model"] = given["model"], asdict(VARIANTS[given["model"]].config())
    else:
        config = default_config(given.get("model", DEFAULT_VARIANT))
    for flag, (section, field, _, _) in TRAIN_FLAGS.items():
        key = flag[2:].replace("-", "_")
        if key in given:
            if field not in config[section]:
                raise ValueError(f"{flag} is not an option of --model {config['variant']} (it is of --model "
                                 f"{' | '.join(variants_with(field))})")
            config[section][field] = given[key]
    if "seed" in given:
        config["seed"] = given["seed"]
    return config


def variant_training(config, guide, data):
    """How the run's variant trains (and batches its evaluation splits): see train.Training."""
    variant = VARIANTS[config["variant"]]
    if variant.training is None:
        return Training(data.batches)
    return variant.training(variant.config(**config["model"]), guide, data, config["seed"])


def load_run(run_dir, device, with_data=True):
    """A trained run's config, (model, guide) on `device` in eval mode, and its dataset. The weights are those of
    best.pt where the run has one (the epoch its validation score picked), else of the last checkpoint."""
    config = rundir.read_json(Path(run_dir) / rundir.CONFIG)
    best = (Path(run_dir) / rundir.BEST).exists()
    state = rundir.load_checkpoint(run_dir, rundir.BEST if best else rundir.CHECKPOINT)
    model, guide = build(config, config["image_shape"], device)
    model.load_state_dict(state["model"])
    guide.load_state_dict(state["guide"])
    model.eval()
    guide.eval()
    data = load_data(config, device) if with_data else None
    return config, model, guide, data


def load_data(config, device):
    """The run's dataset as its programs see it: the images, or (M1+M2, a model config with "m1") the codes that the
    trained VAE in that run folder gives them, the means of its q(z1 | x)."""
    data = Dataset(DataConfig(**config["data"]), device, config["seed"])
    if not config["model"].get("m1"):
        return data
    m1_config, _, m1_guide, _ = load_run(Path(config["model"]["m1"]), device, with_data=False)
    if m1_config["data"]["dataset"] != config["data"]["dataset"]:
        raise ValueError(f"--m1 {config['model']['m1']} was trained on {m1_config['data']['dataset']}, not on "
                         f"{config['data']['dataset']}")
    return data.encoded(partial(plots.latent_means, m1_guide))


def build(config, image_shape, device):
    pyro.set_rng_seed(config["seed"])
    variant = VARIANTS[config["variant"]]
    model, guide = variant.build(variant.config(**config["model"]), image_shape)
    return model.to(device), guide.to(device)


def new_run_dir(args, config):
    name = args.name or f"{config['variant']}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = args.runs_dir / name
    if run_dir.exists():
        if not args.overwrite:
            raise FileExistsError(f"{run_dir} exists; pick another --name, --resume it, or pass --overwrite")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    return run_dir


def cmd_train(args):
    device = resolve_device(args.device)
    if args.resume:
        changed = set(vars(args)) - RESUMABLE - {"command", "config", "resume", "name", "runs_dir", "overwrite"}
        if changed:
            raise ValueError(f"--resume continues {args.resume} as configured; only --epochs and --device may be "
                             f"given with it (got {', '.join(sorted(changed))})")
        run_dir = args.resume
        config = rundir.read_json(run_dir / rundir.CONFIG)
        config["train"]["epochs"] = getattr(args, "epochs", config["train"]["epochs"])
    else:
        config = train_config(args)
    train_cfg = TrainConfig(**config["train"])
    data = load_data(config, device)
    model, guide = build(config, data.image_shape, device)
    training = variant_training(config, guide, data)
    if not args.resume:
        run_dir = new_run_dir(args, config)
    config["image_shape"] = list(data.image_shape)
    config["versions"] = {"torch": torch.__version__, "pyro": pyro.__version__, "python": sys.version.split()[0]}
    rundir.write_json(run_dir / rundir.CONFIG, config)
    print(f"run folder: {run_dir}   device: {device}   train images: {len(data.images['train'])}")
    try:
        metrics = fit(model, guide, data, train_cfg, run_dir, resume=bool(args.resume), training=training)
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python run.py train --resume {run_dir}", file=sys.stderr)
        return 130
    except FloatingPointError as e:
        done = len(rundir.read_metrics(run_dir))
        kept = f"{run_dir} keeps its checkpoint of epoch {done}" if done else "no epoch had finished"
        print(f"run.py train: error: {e}; stopped: {kept}. A smaller --lr or a longer --kl-anneal may help.",
              file=sys.stderr)
        return 1
    save_pictures(run_dir, model, guide, training, data, metrics, device)
    last = metrics[-1]
    print(f"after {last['epoch']} epochs: validation ELBO {last['valid_elbo']:.2f}, reconstruction log p(x | z) "
          f"{last['valid_recon']:.2f} nats per image")
    print(f"wrote {run_dir}/: {' '.join(sorted(path.name for path in run_dir.iterdir()))}")
    return 0


def save_pictures(run_dir, model, guide, training, data, metrics, device):
    plots.save_curves(run_dir / "curves.png", metrics)
    if len(data.image_shape) != 2:
        print(f"no samples or reconstructions: the programs' data are vectors of {data.dim} features, not images")
        return
    if hasattr(model, "seen"):  # image completion: completions of test digits rather than samples
        plots.save_completions(run_dir / "samples.png", model, data.images["test"][:8], data.image_shape)
    else:
        save_samples(run_dir / "samples.png", model, None, None, data.dim, data.image_shape, device)
    test_batch = next(training.batches("test", 32, shuffle=False))
    plots.save_reconstructions(run_dir / "reconstructions.png", model, guide, test_batch, data.image_shape)


def save_samples(path, model, labels, n, data_dim, image_shape, device):
    """Samples from the model: a row of n (default 8) for each of `labels` (default all) where the model has
    classes, else n (default 64)."""
    num_classes = getattr(model, "num_classes", None)
    if labels and num_classes is None:
        raise ValueError("--label: this model has no classes")
    if num_classes is None:
        plots.save_samples(path, model, n or 64, data_dim, image_shape, device)
        return
    labels = labels or list(range(num_classes))
    if max(labels) >= num_classes:
        raise ValueError(f"--label: classes are 0 to {num_classes - 1}, got {max(labels)}")
    plots.save_class_samples(path, model, labels, n or 8, num_classes, data_dim, image_shape, device)


def cmd_evaluate(args):
    device = resolve_device(args.device)
    config, model, guide, data = load_run(args.run_dir, device)
    elbo = make_elbo(config["train"]["elbo"])
    batch_size = config["train"]["batch_size"]
    training = variant_training(config, guide, data)
    guide_trace = poutine.trace(guide).get_trace(*next(training.batches("test", 1, shuffle=False)))
    point_masses = evaluate.point_masses(guide_trace)
    results = {}
    for split in ("train", "valid", "test"):
        batches = partial(training.batches, split, batch_size, shuffle=False)
        results[f"{split}_recon"] = evaluate.mean_reconstruction(model, guide, batches())
        line = f"{split:5s} log p(x | z) {results[f'{split}_recon']:9.3f}"
        if split != "train" and not point_masses:
            results[f"{split}_elbo"] = evaluate.mean_elbo(model, guide, batches(), elbo)
            line += f"   ELBO {results[f'{split}_elbo']:9.3f}"
        print(f"{line} nats per image ({len(data.images[split])} images, binarization {config['data']['binarize']})")
    print("(log p(x | z) with z ~ q(z | x) is the reconstruction term; minus it is the summed binary cross-entropy)")
    if "y" in guide_trace.nodes and not guide_trace.nodes["y"]["is_observed"]:  # a classifier q(y | x)
        results["test_accuracy"] = evaluate.accuracy(guide, data.images["test"], data.labels["test"])
        results["test_cluster_accuracy"] = evaluate.cluster_accuracy(guide, data.images["test"], data.labels["test"])
        print(f"test  accuracy {results['test_accuracy']:.4f} (the most probable y under q(y | x) read as the label); "
              f"as clusters {results['test_cluster_accuracy']:.4f} (each value of y matched to one label, the "
              "matching that scores best)")
    if "code" in guide_trace.nodes:  # a grid of discrete codes
        used, perplexity = evaluate.code_usage(guide, training.batches("test", batch_size, False),
                                               config["model"]["codes"])
        results.update(test_codes_used=used, test_perplexity=perplexity)
        print(f"test  codes: {used} of {config['model']['codes']} used, perplexity {perplexity:.2f}")
    if point_masses:
        print(f"no ELBO or log p(x): the guide puts a point mass on {', '.join(point_masses)} (importance sampling "
              "needs a guide that spreads over the latents)")
    else:
        results["layers"] = layer_statistics(model, guide, training)
        for name, layer in results["layers"].items():
            print(f"test  {name}: KL term {layer['kl']:8.3f} nats per image, {layer['active']} of {layer['units']} "
                  f"units active (Cov_x E_q[u | x] > 0.01; first {LAYER_IMAGES} test images, {LAYER_PARTICLES} "
                  "draws each)")
    if args.iw_samples and not point_masses:
        test_images = min(args.test_images or len(data.images["test"]), len(data.images["test"]))
        first = torch.arange(test_images, device=device)
        log_px = iw_log_likelihoods(model, guide, training.batches("test", args.iw_batch_size, False, indices=first),
                                    test_images, args.iw_samples, args.chunk_size)
        nll = -log_px
        results.update(iw_samples=args.iw_samples, test_images=len(nll), test_nll=nll.mean().item(),
                       test_nll_se=(nll.std() / len(nll) ** 0.5).item())
        print(f"test  NLL  {results['test_nll']:9.3f} ± {results['test_nll_se']:.3f} nats per image (mean ± standard "
              f"error over {len(nll)} images, k = {args.iw_samples} importance samples)")
        rundir.atomic_write(args.run_dir / rundir.TEST_LOG_LIKELIHOOD, lambda f: np.save(f, log_px.numpy()))
    rundir.write_json(args.run_dir / rundir.EVALUATION, results)
    print(f"wrote {args.run_dir / rundir.EVALUATION}" + (f" and {rundir.TEST_LOG_LIKELIHOOD}" if "test_nll" in results else ""))
    return 0


def iw_log_likelihoods(model, guide, batches, total, iw_samples, chunk_size):
    """The importance-weighted log p(x) of each image of `batches` (tuples of the programs' arguments, images first;
    `total` images in all), float64 on the CPU, with a progress bar."""
    values, nll_sum = [], 0.0
    with tqdm(total=total, desc=f"log p(x), k = {iw_samples}", unit="img") as progress:
        for batch in batches:
            values.append(evaluate.log_likelihood(model, guide, *batch, iw_samples=iw_samples, chunk_size=chunk_size))
            nll_sum -= values[-1].sum().item()
            progress.update(len(batch[0]))
            progress.set_postfix(nll=f"{nll_sum / progress.n:.2f}", refresh=False)
    return torch.cat(values).double().cpu()


def cmd_sample(args):
    device = resolve_device(args.device)
    config, model, _, _ = load_run(args.run_dir, device, with_data=False)
    require_images(config, args.run_dir)
    output = args.output or args.run_dir / "samples.png"
    save_samples(output, model, args.label, args.n, math.prod(config["image_shape"]), config["image_shape"], device)
    print(f"wrote {output}")
    return 0


def cmd_plot(args):
    device = resolve_device(args.device)
    if args.pca and args.kind not in PCA_KINDS:
        raise ValueError(f"--pca goes with --kind {' or '.join(PCA_KINDS)}, not {args.kind}")
    if args.kind == "layers":
        return plot_layers(args, device)
    caption = f"\n{plots.CAPTIONS[args.kind]}" if args.kind in plots.CAPTIONS else ""
    panels = {}
    for run_dir in args.run_dirs:
        config, model, guide, data = load_run(run_dir, device)
        require_images(config, run_dir)
        parameters = inspect.signature(model.forward).parameters
        if args.kind == "analogies" and "y" not in parameters:
            raise ValueError(f"{run_dir}: --kind analogies needs a class-conditional model, not {config['variant']}")
        mandatory = [p for p in parameters.values() if p.default is p.empty]
        if args.kind != "analogies" and len(mandatory) > 1:
            raise ValueError(f"{run_dir}: the {config['variant']} model takes more than images (its labels, say); "
                             "plot draws models of images alone, but --kind analogies")
        if args.kind in CODE_KINDS:
            sites = {name: site for name, site in poutine.trace(guide).get_trace(data.images["test"][:1]).nodes.items()
                     if site["type"] == "sample" and not site["is_observed"]}
            if plots.LATENT not in sites:
                raise ValueError(f"{run_dir}: --kind {args.kind} draws the codes z of a one-layer model; the "
                                 f"{config['variant']} model's latents are {', '.join(sites)} (try samples or layers)")
            code = sites[plots.LATENT]["fn"]
            if len(code.event_shape) != 1 or code.support.is_discrete:
                kind = "discrete" if code.support.is_discrete else "real"
                raise ValueError(f"{run_dir}: --kind {args.kind} draws codes z that are vectors of real numbers; the "
                                 f"{config['variant']} model's z is {kind}, of shape {tuple(code.event_shape)} (try "
                                 "samples)")
        if args.pca and not panels:
            pca = PCA(data.images["train"], config["model"]["latent"])
            panels[f"PCA, {config['model']['latent']} components{caption}"] = plot_panel(
                args.kind, pca.encode, pca.decode, data.images["test"])
        latent = f", {config['model']['latent']}-D latent" if "latent" in config["model"] else ""
        title = f"{run_dir.name}: {config['variant']}{latent}{caption}"
        if args.kind == "samples":
            panels[title] = plots.prior_means(model, 64, data.dim, device)
        elif args.kind == "analogies":
            rows = plots.ANALOGY_ROWS
            panels[title] = plots.analogies(model, guide, data.images["test"][:rows],
                                            data.one_hot(data.labels["test"][:rows]))
        else:
            encode, decode = partial(plots.latent_means, guide), partial(plots.decoded_means, model, data_dim=data.dim)
            panels[title] = plot_panel(args.kind, encode, decode, data.images["test"])
    output = args.output or args.run_dirs[0] / f"{args.kind}.png"
    if args.kind == "latent":
        plots.save_latent_scatter(output, panels, data.labels["test"])
    else:
        plots.save_image_panels(output, panels, data.image_shape, ncols=plots.PANEL_COLUMNS[args.kind])
    print(f"wrote {output}")
    return 0


def plot_layers(args, device):
    runs = {}
    for run_dir in args.run_dirs:
        config, model, guide, data = load_run(run_dir, device)
        runs[run_dir.name] = layer_statistics(model, guide, variant_training(config, guide, data))
    output = args.output or args.run_dirs[0] / "layers.png"
    plots.save_layers(output, runs)
    print(f"wrote {output}")
    return 0


def layer_statistics(model, guide, training):
    """evaluate.layer_statistics on the first LAYER_IMAGES test images, LAYER_PARTICLES draws each."""
    test_batches = islice(training.batches("test", 100, shuffle=False), LAYER_IMAGES // 100)
    return evaluate.layer_statistics(model, guide, test_batches, num_particles=LAYER_PARTICLES)


def require_images(config, run_dir):
    if len(config["image_shape"]) != 2:
        raise ValueError(f"{run_dir}: the {config['variant']} model's data are vectors of features, not images")


def plot_panel(kind, encode, decode, test_images):
    """What one panel of a `kind` picture shows, from an encoder and a decoder (of a run, or PCA's)."""
    codes = encode(test_images)
    if kind == "latent":
        return plots.plane(codes)
    if kind == "interpolation":
        return decode(plots.interpolation_codes(codes, plots.INTERPOLATION_PAIRS, plots.PANEL_COLUMNS[kind]))
    if kind == "manifold":
        if codes.shape[1] != 2:
            raise ValueError(f"--kind manifold needs a 2-D latent, this run's has {codes.shape[1]}; try traversal")
        return decode(plots.normal_grid(plots.PANEL_COLUMNS[kind]).to(codes))
    values = torch.linspace(-3, 3, plots.PANEL_COLUMNS[kind])
    return decode(plots.traversal_codes(codes[0], codes, plots.TRAVERSAL_UNITS, values))


def cmd_list(args):
    for name, variant in VARIANTS.items():
        print(f"{name:12s} {variant.summary}")
    return 0


def tune_malloc():
    """glibc's malloc, set for a process that allocates and frees tensors of tens of MB many times a second: one heap
    ("arena") for all threads, tensors below 32 MB taken from it rather than mapped afresh, and freed memory kept for
    reuse rather than handed back to the kernel. With glibc's defaults, `evaluate --iw-samples 5000` grew to 1.8 GB
    and 6 GB over the 10 000 test images in two runs here, spent a third of its time in the kernel zeroing pages, and
    bench/iwae_eval.py's ratios wandered from 1.1 to 2.0; with these settings it stayed under 0.8 GB and the ratio
    near 1.1. A no-op where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # from glibc's malloc.h
    libc.mallopt(m_arena_max, 1)
    libc.mallopt(m_mmap_threshold, 32 << 20)
    libc.mallopt(m_trim_threshold, 1 << 30)


def main(argv=None):
    tune_malloc()
    args = build_parser().parse_args(argv)
    command = {"list": cmd_list, "train": cmd_train, "evaluate": cmd_evaluate, "sample": cmd_sample,
               "plot": cmd_plot}[args.command]
    try:
        return command(args)
    except (DataError, FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"run.py {args.command}: error: {e}", file=sys.stderr)
        return 2
