"""The semi-supervised MNIST table: test accuracy of q(y | x) at the epoch the validation accuracy picked, for each
number N of labelled images (mean ± standard deviation where several seeds were run), beside Pyro's example and
Kingma et al. 2014 (their test errors as accuracies); then the notes' 10 000-label experiment.

    python experiments/m2_table.py [RUNS_DIR]      (the runs of experiments/m2_grid.sh, m2_schedules.sh, m1m2.sh)
"""
import statistics
import sys
from pathlib import Path

from ppl_vae import rundir

LABELLED = (100, 600, 1000, 3000)
COLUMNS = {"M2, alpha 46": "m2-{n}-s*", "M2, alpha 460": "m2-{n}-a460-s*", "M2, oversampled": "over-{n}-s*",
           "M1+M2, alpha 460": "m1m2-{n}-a460", "M1+M2, Kingma's features": "m1m2k-{n}-s*",
           "M1+M2, Kingma's features, oversampled": "m1m2k-over-{n}-s*"}
PYRO = ("0.9319", "0.9437", "0.9487", "0.9582")  # Pyro's SS-VAE example, enumerated y and the auxiliary loss
# Kingma et al.'s Table 1 as accuracies (100 - error %); * not checked against the paper here
KINGMA_M2 = ("0.8803 ± 0.0171", "0.9506*", "0.9640", "0.9608*")
KINGMA_M1M2 = ("0.9667 ± 0.0014", "0.9741*", "0.9760", "0.9782*")


def result(runs, pattern):
    """Test accuracy over the evaluated runs matching the pattern, with the epoch picked of those run if one."""
    found = {p: next((p / name for name in (rundir.EVALUATION, "evaluation-k0.json") if (p / name).exists()), None)
             for p in sorted(runs.glob(pattern))}  # evaluate --iw-samples 0 writes evaluation-k0.json
    paths = [p for p, evaluation in found.items() if evaluation]
    values = [rundir.read_json(found[p])["test_accuracy"] for p in paths]
    if not values:
        return "—"
    if len(values) > 1:
        picked = [max(rundir.read_metrics(p), key=lambda m: m["valid_accuracy"])["epoch"] for p in paths]
        return (f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} ({len(values)} seeds: "
                f"{', '.join(f'{v:.4f}' for v in values)}; epochs {', '.join(map(str, picked))})")
    metrics = rundir.read_metrics(paths[0])
    best = max(metrics, key=lambda m: m["valid_accuracy"])["epoch"]
    return f"{values[0]:.4f} (epoch {best} of {len(metrics)})"


def main():
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs")
    print(f"| N labelled | {' | '.join(COLUMNS)} | Pyro's M2 | Kingma's M2 | Kingma's M1+M2 |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for i, n in enumerate(LABELLED):
        ours = " | ".join(result(runs, pattern.format(n=n)) for pattern in COLUMNS.values())
        print(f"| {n} | {ours} | {PYRO[i]} | {KINGMA_M2[i]} | {KINGMA_M1M2[i]} |")
    print("\n| 10 000 labels | test accuracy (ours) | the notes |")
    print("|---|---|---|")
    print(f"| the classifier alone | {result(runs, 'classifier-10000')} | 0.9602 |")
    print(f"| with the VAE (M2) | {result(runs, 'm2-10000-s0')} | 0.9668 |")
    print(f"| the classifier alone, Pyro's initialization and settings | {result(runs, 'classifier-10000-p')} | 0.9602 |")
    print(f"| with the VAE (M2), the same, 50 epochs | {result(runs, 'm2-10000-p50')} | 0.9668 |")


if __name__ == "__main__":
    main()
