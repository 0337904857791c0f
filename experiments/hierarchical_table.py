"""Issue 6's table: each run's test NLL (importance-sampled, `run.py evaluate`), its -ELBO, the active units of each
latent layer and the training time, then the papers' MNIST rows for comparison (all nats per image, dynamic
binarization; the papers' training budgets are in their rows).

    python experiments/hierarchical_table.py RUN_DIR...
"""
import sys
from pathlib import Path

from tables import print_table, read_run

PAPERS = [  # (model, test NLL, training)
    ("two stochastic layers, VAE (Burda et al. 2015, Table 1)", "85.33", "3280 epochs"),
    ("two stochastic layers, IWAE k = 50 (Burda et al. 2015, Table 1)", "82.90", "3280 epochs"),
    ("Ladder VAE, 5 layers, its best MNIST row (Sønderby et al. 2016)", "81.74",
     "about 2000 epochs (as I remember it; not checked)"),
    ("NVAE (Vahdat & Kautz 2020)", "78.01", "400 epochs on 2 GPUs, 15 groups of 20 channels"),
]


def row(run_dir):
    config, results, metrics, minutes = read_run(run_dir)
    layers = ", ".join(f"{name} {layer['active']}/{layer['units']}" for name, layer in results["layers"].items())
    nll = f"**{results['test_nll']:.2f}** ± {results['test_nll_se']:.2f}"
    sample = f"k = {results['iw_samples']}, {results['test_images']} images"
    return (f"`{run_dir.name}` ({config['variant']})", len(metrics), f"{nll} ({sample})", f"{-results['test_elbo']:.2f}",
            layers, f"{minutes:.0f} min")


def main():
    print_table(("run", "epochs", "test NLL", "test -ELBO", "active units per layer", "training (2-core CPU)"),
                [row(Path(run_dir)) for run_dir in sys.argv[1:]])
    print()
    print_table(("the papers'", "test NLL", "training"), PAPERS)


if __name__ == "__main__":
    main()
