"""Issue 6's table: each run's test NLL (importance-sampled, `run.py evaluate`), its -ELBO, the active units of each
latent layer and the training time, then the papers' MNIST rows for comparison (all nats per image, dynamic
binarization; the papers' training budgets are in their rows).

    python experiments/hierarchical_table.py RUN_DIR...
"""
import sys
from pathlib import Path

from ppl_vae import rundir

PAPERS = [  # (model, test NLL, training)
    ("two stochastic layers, VAE (Burda et al. 2015, Table 1)", 85.33, "3280 epochs"),
    ("two stochastic layers, IWAE k = 50 (Burda et al. 2015, Table 1)", 82.90, "3280 epochs"),
    ("Ladder VAE, 5 layers, its best MNIST row (Sønderby et al. 2016)", 81.74, "about 2000 epochs"),
    ("NVAE (Vahdat & Kautz 2020)", 78.01, "400 epochs on 2 GPUs, 15 groups of 20 channels"),
]


def row(run_dir):
    config, results = rundir.read_json(run_dir / rundir.CONFIG), rundir.read_json(run_dir / rundir.EVALUATION)
    metrics = rundir.read_metrics(run_dir)
    layers = ", ".join(f"{name} {layer['active']}/{layer['units']}" for name, layer in results["layers"].items())
    nll = f"**{results['test_nll']:.2f}** ± {results['test_nll_se']:.2f}"
    sample = f"k = {results['iw_samples']}, {results['test_images']} images"
    minutes = sum(m["seconds"] for m in metrics) / 60
    return (f"| `{run_dir.name}` ({config['variant']}) | {len(metrics)} | {nll} ({sample}) | {-results['test_elbo']:.2f} "
            f"| {layers} | {minutes:.0f} min |")


def main():
    print("| run | epochs | test NLL | test -ELBO | active units per layer | training (2-core CPU) |")
    print("|---|---|---|---|---|---|")
    for run_dir in sys.argv[1:]:
        print(row(Path(run_dir)))
    print()
    print("| the papers' | test NLL | training |")
    print("|---|---|---|")
    for model, nll, training in PAPERS:
        print(f"| {model} | {nll} | {training} |")


if __name__ == "__main__":
    main()
