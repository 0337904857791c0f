"""The image-completion table: the negative conditional log-likelihood of the hidden quadrants of the test digits,
-log p(x_hidden | x_seen) in nats per image (`run.py evaluate`'s test NLL; exact for the baseline, importance-sampled
for the CVAE), and the CVAE's single-sample bound -ELBO, beside Pyro's CVAE tutorial.

    python experiments/completion_table.py [RUNS_DIR]    (reads RUNS_DIR/completion{,-nn}-q{1,2,3}; default runs)
"""
import sys
from pathlib import Path

from ppl_vae import rundir

TUTORIAL = {"completion": (71.8, 51.0, 24.2), "completion-nn": (100.4, 61.9, 25.4)}  # 1, 2, 3 quadrants seen


def evaluation(runs, model, quadrants):
    path = runs / f"{model}-q{quadrants}" / rundir.EVALUATION
    return rundir.read_json(path) if path.exists() else None


def nll(runs, model, quadrants):
    results = evaluation(runs, model, quadrants)
    return f"{results['test_nll']:.1f} ± {results['test_nll_se']:.1f}" if results else "—"


def minus_elbo(runs, model, quadrants):
    results = evaluation(runs, model, quadrants)
    return f"{-results['test_elbo']:.1f}" if results else "—"


def main():
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs")
    print("| quadrants seen | CVAE, k = 100 (ours) | CVAE, -ELBO (ours) | baseline (ours) | CVAE (tutorial) | "
          "baseline (tutorial) |")
    print("|---|---|---|---|---|---|")
    for i, quadrants in enumerate((1, 2, 3)):
        print(f"| {quadrants} | {nll(runs, 'completion', quadrants)} | {minus_elbo(runs, 'completion', quadrants)} | "
              f"{nll(runs, 'completion-nn', quadrants)} | {TUTORIAL['completion'][i]} | "
              f"{TUTORIAL['completion-nn'][i]} |")


if __name__ == "__main__":
    main()
