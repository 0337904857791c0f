"""The semi-supervised MNIST table: test accuracy of q(y | x) at the epoch the validation accuracy picked, for each
number N of labelled images, mean ± standard deviation over the seeds found (runs/m2-N-sSEED, runs/m1m2-N-sSEED),
beside Pyro's example and Kingma et al. 2014; then the notes' 10 000-label experiment.

    python experiments/m2_table.py [RUNS_DIR]
"""
import statistics
import sys
from pathlib import Path

from ppl_vae import rundir

LABELLED = (100, 600, 1000, 3000)
PYRO = (0.9319, 0.9437, 0.9487, 0.9582)  # Pyro's SS-VAE example, enumerated + auxiliary loss
KINGMA_M2 = ("11.97 ± 1.71", "4.94 ± 0.13", "3.60 ± 0.56", "3.92 ± 0.63")  # test error, %
KINGMA_M1M2 = ("3.33 ± 0.14", "2.59 ± 0.05", "2.40 ± 0.02", "2.18 ± 0.04")


def accuracies(runs, pattern):
    """Test accuracy of each evaluated run matching the pattern, by seed."""
    return [rundir.read_json(path)["test_accuracy"] for path in sorted(runs.glob(f"{pattern}/{rundir.EVALUATION}"))]


def summary(values):
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4f} (1 seed)"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} ({len(values)} seeds)"


def main():
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs")
    print("| N labelled | M2 (ours) | M1+M2 (ours) | Pyro M2 | Kingma M2 error % | Kingma M1+M2 error % |")
    print("|---|---|---|---|---|---|")
    for i, n in enumerate(LABELLED):
        print(f"| {n} | {summary(accuracies(runs, f'm2-{n}-s*'))} | {summary(accuracies(runs, f'm1m2-{n}-s*'))} | "
              f"{PYRO[i]} | {KINGMA_M2[i]} | {KINGMA_M1M2[i]} |")
    print("\n| 10 000 labels | test accuracy | notes |")
    print("|---|---|---|")
    print(f"| classifier alone | {summary(accuracies(runs, 'classifier-10000'))} | 0.9602 |")
    print(f"| with the VAE (M2) | {summary(accuracies(runs, 'm2-10000-s*'))} | 0.9668 |")


if __name__ == "__main__":
    main()
