"""Runs: a configuration -> the (model, guide) pair, training into a run folder, and reading a trained run back to
evaluate and report it. Shared by the command line, bench/ and experiments/, and the Python API:

    from ppl_vae import runs
    run_dir = runs.train(runs.configure("vae", guide="flow", train={"epochs": 5}), "runs/flow")
    config, model, guide, data = runs.load_run(run_dir)

A configuration is a plain dict, written to the run folder as config.json:
    variant   a named default pair (variants.py), or a user's file or module "my_pair.py:build" / "pkg.mod:build"
              whose build(image_shape) returns (model, guide)
    model     the model's options (its config dataclass); guide: {"name": ..., and the guide's options}
    data, train, seed
"""
import ctypes
import hashlib
import importlib
import importlib.util
import math
import shutil
import sys
import time
from dataclasses import asdict, fields
from functools import partial
from pathlib import Path

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from pyro import poutine

from ppl_vae import disentanglement, distributed, evaluate, options, plots, rundir
from ppl_vae.data import DataConfig, DataError, Dataset, as_images
from ppl_vae.pairs import ModelInfo, check_pair
from ppl_vae.text import VOCABULARY, TextDataset, Vocabulary, is_text, lengths, sample_sentences
from ppl_vae.train import TrainConfig, Training, fit, make_elbo, progress
from ppl_vae.variants import GUIDES, VARIANTS

LAYER_IMAGES, LAYER_PARTICLES = 1000, 100  # what evaluate's per-layer KL and active units are estimated from
FACTOR_BATCH = 1000  # test images per estimate of q(z) in the KL term's decomposition
# What one pass of a particle-vectorized evaluation may hold: particles x data points x values per data point (for a
# sentence, its logits: length x vocabulary). evaluate's defaults for MNIST, 1000 particles of 10 images, are 7.8
# million (110 MB measured); a batch of Penn Treebank sentences asks a thousand times that per particle.
PASS_VALUES = 32_000_000
DEFAULT_VARIANT = "vae"


# ---------------------------------------------------------------- configurations


def is_user_pair(variant):
    return ":" in variant


def guide_fields(name):
    config = GUIDES[name].config
    return asdict(config()) if config else {}


def configure(variant=DEFAULT_VARIANT, guide=None, seed=0, **sections):
    """The configuration of a run: the variant's defaults (its model's options, its guide's or `guide`'s, its
    training defaults), updated by `sections` ({"train": {"epochs": 5}, "model": {...}, "data": {...}})."""
    if is_user_pair(variant):
        if guide is not None:
            raise ValueError(f"--guide: {variant} builds its own guide")
        model, guide_config = {}, {"name": None}
        train, data = asdict(TrainConfig()), asdict(DataConfig())
        pair_file = pair_source(variant)
    elif variant in VARIANTS:
        entry = VARIANTS[variant]
        guide = guide or entry.guide
        if guide not in GUIDES:
            raise ValueError(f"unknown --guide {guide!r}; choose one of {', '.join(GUIDES)}")
        model, guide_config = asdict(entry.model.config()), {"name": guide, **guide_fields(guide)}
        train, pair_file = asdict(TrainConfig(**entry.train_defaults)), None
        data = asdict(DataConfig(**entry.data_defaults))
    else:
        raise ValueError(f"unknown --model {variant!r}: a variant ({', '.join(VARIANTS)}) or a file or module with "
                         "a build function, PATH.py:build or package.module:build")
    config = {"variant": variant, "seed": seed, "model": model, "guide": guide_config,
              "data": data, "train": train}
    if pair_file:
        config["pair_file"] = pair_file
    for section, values in sections.items():
        update(config, section, values)
    return config


def config_classes():
    """Every config class whose fields are options: data, training, each model's and each guide's."""
    return list(dict.fromkeys([DataConfig, TrainConfig, *(v.model.config for v in VARIANTS.values()),
                               *(g.config for g in GUIDES.values() if g.config)]))


def flag(name):
    """The command-line flag of an option, by its field's name."""
    return next((options.flag_of(cls, name) for cls in config_classes() if options.flag_of(cls, name)), name)


def owners(cls):
    """Who has the options of a config class: the variants of a model config, the guides of a guide config."""
    return ([f"--model {name}" for name, v in VARIANTS.items() if v.model.config is cls]
            + [f"--guide {name}" for name, g in GUIDES.items() if g.config is cls])


def update(config, section, values):
    """Set options of one section, refusing those its config class does not have, with the valid ones named."""
    if section not in ("model", "guide", "data", "train"):
        raise ValueError(f"unknown configuration section {section!r}: model, guide, data or train")
    unknown = sorted(set(values) - set(config[section]) - {"name"})
    if unknown:
        owner = {"model": f"--model {config['variant']}", "guide": f"--guide {config['guide']['name']}",
                 "data": "the data", "train": "training"}[section]
        valid = ", ".join(flag(name) for name in config[section] if name != "name")
        having = [owner for cls in config_classes() if unknown[0] in cls.__dataclass_fields__ for owner in owners(cls)]
        raise ValueError(f"{', '.join(map(flag, unknown))}: not an option of {owner} (its options: {valid or 'none'})"
                         + (f"; {flag(unknown[0])} is of {' | '.join(having)}" if having else ""))
    config[section].update(values)


def pair_source(spec):
    """{"path", "sha256"} of the file a user's pair comes from ("path.py:build" or "package.module:build")."""
    path = Path(spec.rsplit(":", 1)[0])
    if path.suffix != ".py":
        module = importlib.util.find_spec(str(path))
        if module is None or module.origin is None:
            raise ValueError(f"--model {spec}: no module {path} can be imported")
        path = Path(module.origin)
    if not path.is_file():
        raise ValueError(f"--model {spec}: no such file {path}")
    return {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def user_build(config):
    """The build function that the configuration's user pair names; a warning if its file changed since training."""
    spec = config["variant"]
    path, name = spec.rsplit(":", 1)
    source = config.get("pair_file") or pair_source(spec)
    now = pair_source(source["path"] + ":" + name)
    if now["sha256"] != source["sha256"]:
        print(f"warning: {source['path']} has changed since this run was configured (SHA-256 {source['sha256'][:12]}"
              f" then, {now['sha256'][:12]} now)", file=sys.stderr)
    if path.endswith(".py"):
        module_spec = importlib.util.spec_from_file_location(Path(source["path"]).stem, source["path"])
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:  # imported by its name, so that the module's own imports (relative ones too) resolve
        module = importlib.import_module(path)
    if not callable(getattr(module, name, None)):
        raise ValueError(f"--model {spec}: {source['path']} has no function {name}(image_shape)")
    return getattr(module, name)


def config_of(cls, values, what):
    """An instance of a config class from a section's values."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names - {"name"})
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not an option of {what} (its options: {', '.join(sorted(names))})")
    return cls(**{k: v for k, v in values.items() if k in names})


def model_config(config):
    entry = VARIANTS[config["variant"]].model
    return config_of(entry.config, config["model"], f"--model {config['variant']}")


def build(config, image_shape, device):
    """The configuration's (model, guide) on `device`, their networks seeded by its seed."""
    pyro.set_rng_seed(config["seed"])
    if is_user_pair(config["variant"]):
        model, guide = user_build(config)(tuple(image_shape))
    else:
        entry, guide_entry = VARIANTS[config["variant"]].model, GUIDES[config["guide"]["name"]]
        cfg = model_config(config)
        model = entry.build(cfg, tuple(image_shape))
        info = ModelInfo(model, cfg, tuple(image_shape), partial(entry.encoder, cfg, tuple(image_shape)))
        guide_cfg = (config_of(guide_entry.config, config["guide"], f"--guide {config['guide']['name']}")
                     if guide_entry.config else None)
        try:
            guide = guide_entry.build(guide_cfg, info)
        except AttributeError as e:  # the builder reads a setting or a network that this model has not
            raise ValueError(f"--guide {config['guide']['name']} cannot be built for --model {config['variant']} "
                             f"({e}); python run.py list names each variant's own guide") from None
    return model.to(device), guide.to(device)


def pair(variant=DEFAULT_VARIANT, image_shape=(28, 28), guide=None, seed=0, device="cpu", **options):
    """A variant's (model, guide), or with `guide` another guide for its model, with options of either program by
    name: pair("ae", (784,), latent=3, code_range=1)."""
    config = configure(variant, guide, seed)
    for name, value in options.items():
        section = next((s for s in ("model", "guide") if name in config[s] and name != "name"), None)
        if section is None:
            raise ValueError(f"{name}: not an option of the {describe(config)} pair's model or guide")
        config[section][name] = value
    return build(config, image_shape, device)


def training_of(config, model, guide, data):
    """How the run's pair trains (and batches its evaluation splits): see train.Training."""
    if is_user_pair(config["variant"]) or VARIANTS[config["variant"]].model.training is None:
        return Training(data.batches)
    return VARIANTS[config["variant"]].model.training(model_config(config), model, guide, data, config["seed"])


def upgrade(config):
    """A configuration written before models and guides were named apart: its guide is the variant's, and the
    options of the old variant's config split between the model's and the guide's."""
    if "guide" in config:
        return config
    variant = VARIANTS[config["variant"]]
    model_names = {f.name for f in fields(variant.model.config)}
    guide = {"name": variant.guide, **guide_fields(variant.guide)}
    guide.update({k: v for k, v in config["model"].items() if k in guide})
    return {**config, "model": {k: v for k, v in config["model"].items() if k in model_names}, "guide": guide}


# ---------------------------------------------------------------- training


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
    process checks the same things before the first writes anything (so a refusal stops them all), and the first
    process writes."""
    device = fabric.device if fabric else resolve_device(device) if isinstance(device, str) else device
    lead = fabric is None or fabric.is_global_zero
    train_cfg = config_of(TrainConfig, config["train"], "training")
    if not resume:
        rundir.check_creatable(run_dir)
    data = load_data(config, device)
    model, guide = build(config, data.image_shape, device)
    training = training_of(config, model, guide, data)
    why = fabric is not None and distributed.shardable(training, data)
    if why:
        raise ValueError(f"--devices {fabric.world_size}: the training of --model {config['variant']} cannot be "
                         f"shared among processes: {why}")
    check_pair(model, guide, next(training.batches("valid", 2, shuffle=False)))
    checkpoint = rundir.load_checkpoint(run_dir) if resume else None
    if resume:  # it must load into these programs before anything in the folder is rewritten
        for module, key in ((model, "model"), (guide, "guide")):
            rundir.load_state(module, checkpoint, key, run_dir)
    if fabric:
        fabric.barrier()  # every process has checked; now the first one writes
    if lead:
        run_dir = Path(run_dir) if resume else new_run_dir(run_dir, overwrite)
        config = {**config, "image_shape": list(data.image_shape),
                  "versions": {"torch": torch.__version__, "pyro": pyro.__version__, "python": sys.version.split()[0]}}
        rundir.write_json(run_dir / rundir.CONFIG, config)
        if isinstance(data, TextDataset):  # the run decodes without its corpus
            data.vocabulary.save(run_dir / VOCABULARY)
        processes = f" x {fabric.world_size} processes" if fabric else ""
        print(f"run folder: {run_dir}   device: {device}{processes}   train {data.item}s: {len(data.images['train'])}")
    metrics = fit(model, guide, data, train_cfg, Path(run_dir), checkpoint, training, fabric, config["seed"])
    if lead:
        save_pictures(run_dir, model, guide, training, data, metrics, device)
    return run_dir


def save_pictures(run_dir, model, guide, training, data, metrics, device):
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


def is_text_run(run_dir):
    return (Path(run_dir) / VOCABULARY).exists()


def load_text_run(run_dir, device):
    """A trained sentence run's config, (model, guide) and vocabulary, without its corpus."""
    if not is_text_run(run_dir):
        raise ValueError(f"{run_dir} is not a run of sentences (no {VOCABULARY} in it)")
    config, model, guide, _ = load_run(run_dir, device, with_data=False)
    return config, model, guide, Vocabulary.load(Path(run_dir) / VOCABULARY)


# ---------------------------------------------------------------- reading a run


def load_config(run_dir):
    return upgrade(rundir.read_json(Path(run_dir) / rundir.CONFIG))


def load_run(run_dir, device="cpu", with_data=True):
    """A trained run's config, (model, guide) on `device` in eval mode, and its dataset. The weights are those of
    best.pt where the run has one (the epoch its validation score picked), else of the last checkpoint."""
    device = resolve_device(device) if isinstance(device, str) else device
    config = load_config(run_dir)
    best = (Path(run_dir) / rundir.BEST).exists()
    name = rundir.BEST if best else rundir.CHECKPOINT
    state = rundir.load_checkpoint(run_dir, name)
    model, guide = build(config, config["image_shape"], device)
    rundir.load_state(model, state, "model", run_dir, name)
    rundir.load_state(guide, state, "guide", run_dir, name)
    model.eval()
    guide.eval()
    data = load_data(config, device) if with_data else None
    return config, model, guide, data


def load_data(config, device):
    """The run's dataset as its programs see it: the images, or (M1+M2, a model config with "m1") the codes that the
    trained VAE in that run folder gives them, the means of its q(z1 | x)."""
    data_cfg = config_of(DataConfig, config["data"], "the data")
    data = (TextDataset if is_text(data_cfg.dataset) else Dataset)(data_cfg, device, config["seed"])
    if not config["model"].get("m1"):
        return data
    m1_config, _, m1_guide, _ = load_run(Path(config["model"]["m1"]), device, with_data=False)
    if m1_config["data"]["dataset"] != config["data"]["dataset"]:
        raise ValueError(f"--m1 {config['model']['m1']} was trained on {m1_config['data']['dataset']}, not on "
                         f"{config['data']['dataset']}")
    return data.encoded(partial(m1_codes, m1_guide), config["model"].get("active", 0.0),
                        config["model"].get("sampled", False))


def m1_codes(guide, images):
    """The means and standard deviations of M1's q(z1 | x) for each image."""
    sites = plots.latent_sites(guide, images)
    try:
        return tuple(torch.cat([getattr(site["fn"], moment) for site in sites]) for moment in ("mean", "stddev"))
    except NotImplementedError:
        raise ValueError("--m1: M1+M2 needs a VAE whose q(z1 | x) has a closed-form mean and standard deviation "
                         "(a Gaussian guide)") from None


def describe(config):
    """The pair as a title names it: the variant, and its guide where that is not the variant's own."""
    variant, guide = config["variant"], config["guide"]["name"]
    if is_user_pair(variant) or guide == VARIANTS[variant].guide:
        return variant
    return f"{variant} + {guide} guide"


# ---------------------------------------------------------------- evaluating a run


def result_names(iw_samples, test_images, default_iw_samples):
    """evaluation.json and test_log_likelihood.npy for the papers' protocol; results of other settings are named by
    them, so that they never replace each other."""
    if iw_samples == default_iw_samples and test_images is None:
        return rundir.EVALUATION, rundir.TEST_LOG_LIKELIHOOD
    suffix = f"-k{iw_samples}" + (f"-n{test_images}" if test_images else "")
    return f"evaluation{suffix}.json", f"test_log_likelihood{suffix}.npy"


def evaluate_run(model, guide, config, data, iw_samples, chunk_size, iw_batch_size, test_images=None, fabric=None):
    """Reconstruction, ELBO, per-layer KL and active units, what the guide's sites call for (accuracy for a
    classifier q(y | x), code usage for a grid of codes), and the importance-weighted log p(x) of the test images
    (the first `test_images` only, with it, for the whole report); printed, returned as a dict and per-image values.
    With Lightning's `fabric` the importance-weighted values are shared out among its processes, first; the other
    processes then return (None, None), and the first reports."""
    elbo = make_elbo(config["train"]["elbo"])
    batch_size = config["train"]["batch_size"]
    training = training_of(config, model, guide, data)
    first = None if test_images is None else torch.arange(min(test_images, len(data.images["test"])),
                                                          device=data.images["test"].device)
    guide_trace = poutine.trace(guide).get_trace(*next(training.batches("test", 1, shuffle=False)))
    point_masses = evaluate.point_masses(guide_trace)
    results, log_px = {}, None
    test_count = len(data.images["test"]) if first is None else len(first)
    if iw_samples and not point_masses:
        log_px = iw_log_likelihoods(model, guide, training.batches("test", iw_batch_size, False, indices=first),
                                    test_count, iw_samples, fitted(chunk_size, iw_batch_size, data.image_shape),
                                    fabric)
    if fabric is not None and not fabric.is_global_zero:
        return None, None
    for split in ("test",) if first is not None else ("train", "valid", "test"):
        count = len(data.images[split]) if first is None else len(first)
        batches = partial(training.batches, split, batch_size, shuffle=False, indices=first)
        with progress(count, f"{split}: log p(x | z), ELBO") as bar:
            results[f"{split}_recon"] = evaluate.mean_reconstruction(model, guide, counted(batches(), bar))
            line = f"{split:5s} log p(x | z) {results[f'{split}_recon']:9.3f}"
            if split != "train" and not point_masses:
                results[f"{split}_elbo"] = evaluate.mean_elbo(model, guide, batches(), elbo)
                line += f"   ELBO {results[f'{split}_elbo']:9.3f}"
        print(f"{line} nats per {data.item} ({count} {data.item}s" + (
            ")" if isinstance(data, TextDataset) else f", binarization {data.binarize})"))
    print("(log p(x | z) with z ~ q(z | x) is the reconstruction term; minus it is the summed binary cross-entropy for "
          "Bernoulli pixels, the summed cross-entropy of the words for sentences)")
    test_images, test_labels = ((data.images["test"], data.labels["test"]) if first is None else
                                (data.images["test"][first], data.labels["test"][first]))
    if "y" in guide_trace.nodes and not guide_trace.nodes["y"]["is_observed"]:  # a classifier q(y | x)
        results["test_accuracy"] = evaluate.accuracy(guide, test_images, test_labels)
        results["test_cluster_accuracy"] = evaluate.cluster_accuracy(guide, test_images, test_labels)
        results["test_cluster_accuracy_many_to_one"] = evaluate.cluster_accuracy(guide, test_images, test_labels,
                                                                                 many_to_one=True)
        print(f"test  accuracy {results['test_accuracy']:.4f} (the most probable y under q(y | x) read as the label); "
              f"as clusters {results['test_cluster_accuracy']:.4f} (each value of y matched to one label, the "
              f"matching that scores best), {results['test_cluster_accuracy_many_to_one']:.4f} (each value of y "
              "read as its most frequent label)")
    if "code" in guide_trace.nodes:  # a grid of discrete codes, 0..K-1 by the support of the model's prior
        _, model_trace = evaluate.traces(model, guide, *next(training.batches("test", 1, shuffle=False)))
        num_codes = int(model_trace.nodes["code"]["fn"].support.base_constraint.upper_bound) + 1
        used, perplexity = evaluate.code_usage(guide, training.batches("test", batch_size, False, indices=first),
                                               num_codes)
        results.update(test_codes_used=used, test_perplexity=perplexity)
        print(f"test  codes: {used} of {num_codes} used, perplexity {perplexity:.2f}")
    if point_masses:
        print(f"no ELBO or log p(x): the guide puts a point mass on {', '.join(point_masses)} (importance sampling "
              "needs a guide that spreads over the latents)")
    else:
        layer_images = min(LAYER_IMAGES, len(test_images))
        results["layers"] = layer_statistics(model, guide, training, data, layer_images)
        for name, layer in results["layers"].items():
            print(f"test  {name}: KL term {layer['kl']:8.3f} nats per {data.item}, {layer['active']} of "
                  f"{layer['units']} units active (Cov_x E_q[u | x] > 0.01; first {layer_images} test {data.item}s, "
                  f"{LAYER_PARTICLES} draws each)")
    if len(getattr(data, "factor_names", ())):
        results.update(factor_report(model, guide, guide_trace, training, data, first, point_masses))
    if log_px is not None:
        nll = -log_px
        results.update(iw_samples=iw_samples, test_images=len(nll), test_nll=nll.mean().item(),
                       test_nll_se=(nll.std() / len(nll) ** 0.5).item())
        print(f"test  NLL  {results['test_nll']:9.3f} ± {results['test_nll_se']:.3f} nats per {data.item} (mean ± "
              f"standard error over {len(nll)} {data.item}s, k = {iw_samples} importance samples)")
        if isinstance(data, TextDataset):  # the language models' number: per token, each sentence's <eos> counted
            tokens = int(lengths(test_images).sum())
            results.update(test_tokens=tokens, test_ppl=math.exp(nll.sum().item() / tokens))
            print(f"test  perplexity {results['test_ppl']:.2f} (exp of the NLL per token, {tokens} tokens with <eos>)")
    return results, log_px


def factor_report(model, guide, guide_trace, training, data, first, point_masses):
    """On images with known factors: the disentanglement scores of the code, the mean of q(z | x) (of the site z, or
    of the guide's first continuous latent site), on data.factor_sample's training images; and for a guide with a
    density the KL term's three parts per site, estimated in batches of FACTOR_BATCH test images
    (ppl_vae/decomposition.py)."""
    continuous = [name for name, s in guide_trace.nodes.items()
                  if s["type"] == "sample" and not s["is_observed"] and s["fn"].has_rsample]
    if not continuous:
        return {}
    site = "z" if "z" in continuous else continuous[0]
    sample = data.factor_sample()
    codes, scales = evaluate.posterior_moments(guide, training.batches("train", FACTOR_BATCH, shuffle=False,
                                                                       indices=sample), site)
    print(f"scoring the code against the factors (DCI's trees: minutes on {len(sample)} images)", flush=True)
    scores = disentanglement.scores(codes.cpu(), data.factors["train"][sample].cpu(), data.factor_names,
                                    None if scales is None else scales.cpu())
    print(f"train disentanglement of {site} (the mean of q({site} | x), {len(sample)} images) against "
          f"{', '.join(data.factor_names)}: " + ", ".join(f"{name} {value:.4f}" for name, value in scores.items()))
    report = {"disentanglement": {"site": site, "images": len(sample), **scores}}
    if not point_masses:
        test_count = len(data.images["test"]) if first is None else len(first)
        test_batches = training.batches("test", FACTOR_BATCH, shuffle=False, indices=first)
        parts = evaluate.kl_decomposition(model, guide, test_batches, test_count)
        for name, terms in parts.items():
            print(f"test  {name}: KL term = index-code MI {terms['index_code_mi']:.3f} + total correlation "
                  f"{terms['total_correlation']:.3f} + dimension-wise KL {terms['dimension_wise_kl']:.3f} nats")
        report["kl_decomposition"] = parts
    return report


def read_images(path, model, image_shape, device):
    """A user's images to score with a run's model, from an .npz of one array (or with x_test), as the model's data:
    refused where their size is not the model's, or where they are grey and the model's pixels are Bernoulli (grey
    values are not Bernoulli data)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = dict(npz)
    except Exception as e:  # a missing file, or zip and format errors from numpy
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if len(arrays) != 1 and "x_test" not in arrays:
        raise DataError(f"{path}: holds {', '.join(arrays)}; expected one array of images, or x_test")
    x, _ = as_images(arrays["x_test"] if "x_test" in arrays else next(iter(arrays.values())), None, str(path))
    if x.shape[1] != math.prod(image_shape):
        raise DataError(f"{path}: images of {x.shape[1]} pixels; the run's pair takes "
                        f"{' x '.join(map(str, image_shape))}")
    x = torch.from_numpy(x).to(device)
    pixels = poutine.trace(model).get_trace(x[:1]).nodes[plots.OBSERVED]["fn"]
    while hasattr(pixels, "base_dist"):
        pixels = pixels.base_dist
    if isinstance(pixels, dist.Bernoulli) and ((x > 0) & (x < 1)).any():
        raise DataError(f"{path}: grey values (not only 0 and 1), which are not Bernoulli data, and this run's "
                        "pixels are Bernoulli: binarize the images, or train with --likelihood continuous-bernoulli")
    return x


def counted(batches, bar):
    for batch in batches:
        yield batch
        bar.update(len(batch[0]))


def iw_log_likelihoods(model, guide, batches, total, iw_samples, chunk_size, fabric=None):
    """The importance-weighted log p(x) of each image of `batches` (tuples of the programs' arguments, images first;
    `total` images in all), float64 on the CPU, with a progress bar. Each batch's samples are seeded by its index, so
    the values do not depend on how Lightning's `fabric`, if given, deals the batches out among its processes
    (ppl_vae/distributed.py); every process returns all the values, in order."""
    world, rank = (fabric.world_size, fabric.global_rank) if fabric else (1, 0)
    values, nll_sum, scored, batch_size = {}, 0.0, 0, 1
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with progress(total, f"log p(x), k = {iw_samples}", disable=rank != 0) as bar:
        for j, batch in enumerate(batches):
            batch_size = max(batch_size, len(batch[0]))
            if j % world != rank:
                continue
            with torch.random.fork_rng(devices):
                torch.manual_seed(j)
                values[j] = evaluate.log_likelihood(model, guide, *batch, iw_samples=iw_samples,
                                                    chunk_size=chunk_size).double().cpu()
            nll_sum, scored = nll_sum - values[j].sum().item(), scored + len(batch[0])
            bar.update(len(batch[0]))
            bar.set_postfix(nll=f"{nll_sum / scored:.2f}", refresh=False)
    if fabric is None:
        return torch.cat(list(values.values()))
    return distributed.gather_in_order(fabric, values, j + 1, batch_size, total)


def fitted(wanted, other, data_shape):
    """`wanted` particles (or data points) per pass, fewer if need be, so that a pass with `other` data points (or
    particles) of this shape holds at most PASS_VALUES values."""
    return max(1, min(wanted, PASS_VALUES // (other * math.prod(data_shape))))


def layer_statistics(model, guide, training, data, images=LAYER_IMAGES):
    """evaluate.layer_statistics on the first `images` test images, LAYER_PARTICLES draws each."""
    batch_size = fitted(100, LAYER_PARTICLES, data.image_shape)
    first = torch.arange(min(images, len(data.images["test"])), device=data.images["test"].device)
    test_batches = training.batches("test", batch_size, shuffle=False, indices=first)
    return evaluate.layer_statistics(model, guide, test_batches, num_particles=LAYER_PARTICLES)


def write_results(run_dir, names, results, log_px):
    """The evaluation's files in the run folder, atomically."""
    if log_px is not None:
        rundir.atomic_write(Path(run_dir) / names[1], lambda f: np.save(f, log_px.numpy()))
    rundir.write_json(Path(run_dir) / names[0], results)


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
