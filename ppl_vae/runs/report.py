"""The report of a trained run: reconstruction, ELBO, per-layer KL and active units, what the guide's sites call
for, disentanglement on images with known factors, and the importance-weighted log p(x), computed as a dict
(`evaluate_run`) and printed apart (`print_report`)."""
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyro.distributions as dist
import torch
from pyro import poutine

from ppl_vae import disentanglement, distributed, evaluate, metrics, rundir
from ppl_vae.data import as_images
from ppl_vae.sources import DataError, npz_arrays
from ppl_vae.options import Options, option
from ppl_vae.pairs import observed_site
from ppl_vae.runs.configuration import training_of, variant_of
from ppl_vae.objectives import make_elbo
from ppl_vae.train import progress

LAYER_IMAGES, LAYER_PARTICLES = 1000, 100  # what evaluate's per-layer KL and active units are estimated from
FACTOR_BATCH = 1000  # test images per estimate of q(z) in the KL term's decomposition
# What one pass of a particle-vectorized evaluation may hold: particles x data points x values per data point (for a
# sentence, its logits: length x vocabulary). evaluate's defaults for MNIST, 1000 particles of 10 images, are 7.8
# million (110 MB measured); a batch of Penn Treebank sentences asks a thousand times that per particle.
PASS_VALUES = 32_000_000
# the numbers print_report prints in lines of their own; the pair's own (Variant.metrics) get a line each
PRINTED = {"test_recon", "test_elbo", "test_accuracy", "test_cluster_accuracy", "test_cluster_accuracy_many_to_one",
           "test_codes", "test_codes_used", "test_perplexity", "test_images", "test_nll", "test_nll_se", "test_ppl",
           "test_tokens"}


@dataclass
class EvaluateConfig(Options):
    iw_samples: int = option(evaluate.IW_SAMPLES, "k, importance samples per test image for log p(x) (0: the ELBO "
                             "alone); other settings than the papers' protocol (the default, every test image) write "
                             "files named by them (evaluation-k50-n100.json), never the protocol's", minimum=0)
    chunk_size: int = option(evaluate.CHUNK_SIZE, "importance samples per pass: memory grows with chunk size x batch "
                             "size", minimum=1)
    test_images: int | None = option(None, "the first N test images only, for the whole report (default all): a "
                                     "quick look, or models whose k samples of every test image would take too long",
                                     minimum=1, metavar="N")
    iw_batch_size: int = option(10, "test images per pass", minimum=1)
    images: str | None = option(None, "score these images (an .npz of one array, or with x_test) with the run's pair "
                                "instead: their log p(x) to FILE_log_likelihood.npy in the run folder",
                                metavar="FILE.npz")


def result_names(iw_samples, test_images):
    """evaluation.json and test_log_likelihood.npy for the papers' protocol; results of other settings are named by
    them, so that they never replace each other."""
    if iw_samples == evaluate.IW_SAMPLES and test_images is None:
        return rundir.EVALUATION, rundir.TEST_LOG_LIKELIHOOD
    suffix = f"-k{iw_samples}" + (f"-n{test_images}" if test_images else "")
    return f"evaluation{suffix}.json", f"test_log_likelihood{suffix}.npy"


def evaluate_run(model, guide, config, data, iw_samples, chunk_size, iw_batch_size, test_images=None, fabric=None):
    """Reconstruction, ELBO, per-layer KL and active units, what the guide's sites call for (accuracy for a
    classifier q(y | x), code usage for a grid of codes), and the importance-weighted log p(x) of the test images
    (the first `test_images` only, with it, for the whole report): a dict (print_report prints it) and the per-image
    values. With Lightning's `fabric` the importance-weighted values are shared out among its processes, first; the
    other processes then return (None, None), and the first reports."""
    elbo = make_elbo(config["train"]["elbo"])
    batch_size = config["train"]["batch_size"]
    training = training_of(config, model, guide, data)
    first = None if test_images is None else torch.arange(min(test_images, len(data.images["test"])),
                                                          device=data.images["test"].device)
    guide_trace = poutine.trace(guide).get_trace(*next(training.batches("test", 1, shuffle=False)))
    point_masses = evaluate.point_masses(guide_trace)
    log_px = None
    test_count = len(data.images["test"]) if first is None else len(first)
    if iw_samples and not point_masses:
        log_px = iw_log_likelihoods(model, guide, training.batches("test", iw_batch_size, False, indices=first),
                                    test_count, iw_samples, fitted(chunk_size, iw_batch_size, data.image_shape),
                                    fabric)
    if fabric is not None and not fabric.is_global_zero:
        return None, None
    results = {"point_masses": point_masses, "counts": {}}
    for split in ("test",) if first is not None else ("train", "valid", "test"):
        count = len(data.images[split]) if first is None else len(first)
        results["counts"][split] = count
        batches = partial(training.batches, split, batch_size, shuffle=False, indices=first)
        with progress(count, f"{split}: log p(x | z), ELBO") as bar:
            results[f"{split}_recon"] = evaluate.mean_reconstruction(model, guide, counted(batches(), bar))
            if split != "train" and not point_masses:
                results[f"{split}_elbo"] = evaluate.mean_elbo(model, guide, batches(), elbo)
    test_images, test_labels = ((data.images["test"], data.labels["test"]) if first is None else
                                (data.images["test"][first], data.labels["test"][first]))
    results.update(metrics.split_metrics(model, guide, partial(training.batches, "test", batch_size, False,
                                                               indices=first),
                                         test_images, test_labels, "test", variant_of(config).metrics))
    if not point_masses:
        results["layer_images"] = min(LAYER_IMAGES, len(test_images))
        results["layers"] = layer_statistics(model, guide, training, data, results["layer_images"])
    if len(getattr(data, "factor_names", ())):
        results.update(factor_report(model, guide, guide_trace, training, data, first, point_masses))
    if log_px is not None:
        nll = -log_px
        results.update(iw_samples=iw_samples, test_images=len(nll), test_nll=nll.mean().item(),
                       test_nll_se=(nll.std() / len(nll) ** 0.5).item())
        tokens = data.tokens(test_images)
        if tokens:  # the language models' number, per token
            results.update(test_tokens=tokens, test_ppl=math.exp(nll.sum().item() / tokens))
    return results, log_px


def print_report(results, data):
    """evaluate_run's results as lines, nats per data point."""
    item = data.item
    for split, count in results["counts"].items():
        line = f"{split:5s} log p(x | z) {results[f'{split}_recon']:9.3f}"
        if f"{split}_elbo" in results:
            line += f"   ELBO {results[f'{split}_elbo']:9.3f}"
        print(f"{line} nats per {item} ({count} {item}s" + (
            f", binarization {data.binarize})" if item == "image" else ")"))
    print("(log p(x | z) with z ~ q(z | x) is the reconstruction term; minus it is the summed binary cross-entropy for "
          "Bernoulli pixels, the summed cross-entropy of the words for sentences)")
    if "test_accuracy" in results:
        print(f"test  accuracy {results['test_accuracy']:.4f} (the most probable y under q(y | x) read as the label)")
    if "test_cluster_accuracy" in results:
        print(f"test  clusters: accuracy {results['test_cluster_accuracy']:.4f} (each value of y matched to one "
              f"label, the matching that scores best), {results['test_cluster_accuracy_many_to_one']:.4f} (each "
              "value of y read as its most frequent label)")
    if "test_codes_used" in results:
        print(f"test  codes: {results['test_codes_used']} of {results['test_codes']} used, perplexity "
              f"{results['test_perplexity']:.2f}")
    for name, value in results.items():  # the pair's own numbers (Variant.metrics)
        if name.startswith("test_") and name not in PRINTED and isinstance(value, (int, float)):
            print(f"test  {name[5:]} {value:.6g}")
    if results["point_masses"]:
        print(f"no ELBO or log p(x): the guide puts a point mass on {', '.join(results['point_masses'])} (importance "
              "sampling needs a guide that spreads over the latents)")
    for name, layer in results.get("layers", {}).items():
        print(f"test  {name}: KL term {layer['kl']:8.3f} nats per {item}, {layer['active']} of {layer['units']} "
              f"units active (Cov_x E_q[u | x] > 0.01; first {results['layer_images']} test {item}s, "
              f"{LAYER_PARTICLES} draws each)")
    if "disentanglement" in results:
        scores = {k: v for k, v in results["disentanglement"].items() if k not in ("site", "images")}
        site = results["disentanglement"]["site"]
        print(f"train disentanglement of {site} (the mean of q({site} | x), {results['disentanglement']['images']} "
              f"images) against {', '.join(data.factor_names)}: "
              + ", ".join(f"{name} {value:.4f}" for name, value in scores.items()))
    for name, terms in results.get("kl_decomposition", {}).items():
        print(f"test  {name}: KL term = index-code MI {terms['index_code_mi']:.3f} + total correlation "
              f"{terms['total_correlation']:.3f} + dimension-wise KL {terms['dimension_wise_kl']:.3f} nats")
    if "test_nll" in results:
        print(f"test  NLL  {results['test_nll']:9.3f} ± {results['test_nll_se']:.3f} nats per {item} (mean ± "
              f"standard error over {results['test_images']} {item}s, k = {results['iw_samples']} importance samples)")
    if "test_ppl" in results:
        print(f"test  perplexity {results['test_ppl']:.2f} (exp of the NLL per token, {results['test_tokens']} tokens "
              "with <eos>)")


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
    report = {"disentanglement": {"site": site, "images": len(sample), **scores}}
    if not point_masses:
        test_count = len(data.images["test"]) if first is None else len(first)
        test_batches = training.batches("test", FACTOR_BATCH, shuffle=False, indices=first)
        report["kl_decomposition"] = evaluate.kl_decomposition(model, guide, test_batches, test_count)
    return report


def read_images(path, model, image_shape, device):
    """A user's images to score with a run's model, from an .npz of one array (or with x_test), as the model's data:
    refused where their size is not the model's, or where they are grey and the model's pixels are Bernoulli (grey
    values are not Bernoulli data)."""
    arrays = npz_arrays(path)
    if len(arrays) != 1 and "x_test" not in arrays:
        raise DataError(f"{path}: holds {', '.join(arrays)}; expected one array of images, or x_test")
    x, _ = as_images(arrays["x_test"] if "x_test" in arrays else next(iter(arrays.values())), None, str(path))
    if x.shape[1] != math.prod(image_shape):
        raise DataError(f"{path}: images of {x.shape[1]} pixels; the run's pair takes "
                        f"{' x '.join(map(str, image_shape))}")
    x = torch.from_numpy(x).to(device)
    trace = poutine.trace(model).get_trace(x[:1])
    pixels = trace.nodes[observed_site(trace, x[:1])]["fn"]
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
