"""Speed of the importance-weighted log-likelihood: our generic estimator (ppl_vae.evaluate.log_likelihood, from Pyro
traces) against a plain-PyTorch vectorized version of the same estimator for the same VAE, alternating in one
process on the same test images. Prints milliseconds per image and the ratio of times within each round.

    python bench/iwae_eval.py [RUN_DIR] [--iw-samples 5000] [--images 50] [--batch-size 10] [--chunk-size 1000]

RUN_DIR is a trained VAE's run folder (default: the untrained default VAE; the cost does not depend on the weights).
"""
import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import pyro
import torch
import torch.nn.functional as F
from torch.distributions import Normal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppl_vae.cli import tune_malloc  # noqa: E402
from ppl_vae.runs import load_run, pair  # noqa: E402
from ppl_vae.data import DataConfig, Dataset  # noqa: E402
from ppl_vae.evaluate import log_likelihood  # noqa: E402


@torch.no_grad()
def plain_log_likelihood(encoder, decoder, x, iw_samples, chunk_size):
    """log (1/k) sum_j p(x, z_j) / q(z_j | x) per image, written directly in PyTorch for this VAE."""
    loc, raw_scale = encoder(x).chunk(2, dim=-1)
    q, prior = Normal(loc, F.softplus(raw_scale)), Normal(0.0, 1.0)
    running = None
    for start in range(0, iw_samples, chunk_size):
        z = q.sample((min(chunk_size, iw_samples - start),))
        logits = decoder(z)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
        log_w = log_px_z + (prior.log_prob(z) - q.log_prob(z)).sum(-1)
        chunk = log_w.logsumexp(dim=0)
        running = chunk if running is None else torch.logaddexp(running, chunk)
    return running - math.log(iw_samples)


def milliseconds_per_image(estimate, images, batch_size):
    start = time.perf_counter()
    for i in range(0, len(images), batch_size):
        estimate(images[i : i + batch_size])
    return 1000 * (time.perf_counter() - start) / len(images)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument("--images", type=int, default=50, help="test images per timed round")
    parser.add_argument("--batch-size", type=int, default=10, help="images per pass")
    parser.add_argument("--chunk-size", type=int, default=1000, help="particles per pass")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tune_malloc()  # as run.py does

    if args.run_dir:
        _, model, guide, data = load_run(args.run_dir, torch.device("cpu"))
    else:
        data = Dataset(DataConfig(), seed=0)
        pyro.set_rng_seed(0)
        model, guide = pair("vae", data.image_shape)
    images = data.images["test"][: args.images]
    contenders = {
        "ours (log_likelihood on Pyro traces)": lambda x: log_likelihood(
            model, guide, x, iw_samples=args.iw_samples, chunk_size=args.chunk_size),
        "plain PyTorch": lambda x: plain_log_likelihood(
            guide.encoder, model.decoder, x, args.iw_samples, args.chunk_size),
    }
    pyro.set_rng_seed(0)
    estimates = {name: estimate(images[:20]).mean().item() for name, estimate in contenders.items()}  # warm-up
    times = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, estimate in contenders.items():
            times[name].append(milliseconds_per_image(estimate, images, args.batch_size))

    print(f"k = {args.iw_samples}, {args.images} test images per round, {args.batch_size} images x "
          f"{args.chunk_size} particles per pass, {args.rounds} alternating rounds, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; median milliseconds per image:")
    for name, rounds in times.items():
        print(f"  {name:38s} {statistics.median(rounds):7.1f}   (rounds: {', '.join(f'{t:.1f}' for t in rounds)})"
              f"   NLL of the first 20 images {-estimates[name]:.2f}")
    ours, plain = times.values()
    ratios = [a / b for a, b in zip(ours, plain)]  # within a round: the machine's speed drifts between rounds
    low, median, high = statistics.quantiles(ratios, n=4)
    print(f"ours / plain PyTorch time: median ratio {median:.3f}, quartiles {low:.3f}-{high:.3f}   (target <= 1.1)")


if __name__ == "__main__":
    main()
