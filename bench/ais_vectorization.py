"""AIS's vectorization: the chains of many images in one particle plate, against one chain of one image at a time,
for a trained run's pair, the same steps and leapfrog steps. Prints seconds per image and chain for each and the
speed-up, measured in the same call.

    python bench/ais_vectorization.py RUN_DIR [--images 10] [--chains 16] [--steps 50]
"""
import argparse
import sys
import time
from pathlib import Path

import pyro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppl_vae import ais, runs  # noqa: E402


def seconds(model, guide, x, chains, steps):
    path = ais.Path(model, guide, (x,), chains=chains)
    start = time.perf_counter()
    ais.anneal(path, path.draw(), ais.sigmoid_schedule(steps))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    config, model, guide, data = runs.load_run(args.run_dir, "cpu")
    x = data.images["test"][: args.images].float()
    pyro.set_rng_seed(0)
    seconds(model, guide, x[:1], 1, 1)  # the first call's set-up, untimed
    together = seconds(model, guide, x, args.chains, args.steps)
    one_at_a_time = sum(seconds(model, guide, x[i : i + 1], 1, args.steps)
                        for i in range(args.images) for _ in range(args.chains))
    pairs = args.images * args.chains
    print(f"{args.images} images x {args.chains} chains, {args.steps} steps: vectorized {together / pairs * 1e3:.2f} ms "
          f"per image and chain, one at a time {one_at_a_time / pairs * 1e3:.2f} ms: "
          f"{one_at_a_time / together:.1f} x faster vectorized")


if __name__ == "__main__":
    main()
