"""The importance-weighted estimate of the test NLL against k, for trained runs: how far the ELBO (k = 1) is from
log p(x), and how the bound tightens with k (Burda et al. 2015, Fig. 2's question, for the NLL).

    python experiments/iwae_bounds.py RUN_DIR [RUN_DIR ...] [--images 500] [--ks 1 5 50 500 5000] -o docs/iwae-bounds.png
"""
import argparse
import sys
from pathlib import Path

import pyro
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppl_vae import plots  # noqa: E402
from ppl_vae.cli import tune_malloc  # noqa: E402
from ppl_vae.runs import load_run  # noqa: E402
from ppl_vae.runs.report import iw_log_likelihoods  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+")
    parser.add_argument("--images", type=int, default=500, help="the first N test images")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 50, 500, 5000])
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    tune_malloc()  # as run.py does

    curves = {}
    for run_dir in args.run_dirs:
        config, model, guide, data = load_run(run_dir, torch.device("cpu"))
        images = data.images["test"][: args.images]
        pyro.set_rng_seed(0)
        nll = [-iw_log_likelihoods(model, guide, [(x,) for x in images.split(10)], len(images), k, 1000).mean().item()
               for k in args.ks]
        train = config["train"]
        label = "ELBO" if train["elbo"] != "iwae" else f"IWAE k={train['num_particles']}"
        curves[f"trained on {label}, {train['epochs']} epochs"] = (args.ks, nll)
        print(f"{run_dir}: " + ", ".join(f"k={k}: {v:.2f}" for k, v in zip(args.ks, nll)))
    plots.save_nll_against_k(args.output, curves, f"the first {len(images)}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
