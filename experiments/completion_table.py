"""The image-completion table: the negative conditional log-likelihood of the hidden quadrants of the test digits,
-log p(x_hidden | x_seen) in nats per image (`run.py evaluate`'s test NLL; exact for the baseline, importance-sampled
for the CVAE), beside Pyro's CVAE tutorial.

    python experiments/completion_table.py [RUNS_DIR]    (reads RUNS_DIR/completion{,-nn}-q{1,2,3}; default runs)
"""
import sys
from pathlib import Path

from ppl_vae import rundir

TUTORIAL = {"completion": (71.8, 51.0, 24.2), "completion-nn": (100.4, 61.9, 25.4)}  # 1, 2, 3 quadrants seen


def nll(runs, model, quadrants):
    path = runs / f"{model}-q{quadrants}" / rundir.EVALUATION
    if not path.exists():
        return "—"
    results = rundir.read_json(path)
    return f"{results['test_nll']:.1f} ± {results['test_nll_se']:.1f}"


def main():
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs")
    print("| quadrants seen | CVAE (ours) | baseline (ours) | CVAE (tutorial) | baseline (tutorial) |")
    print("|---|---|---|---|---|")
    for i, quadrants in enumerate((1, 2, 3)):
        print(f"| {quadrants} | {nll(runs, 'completion', quadrants)} | {nll(runs, 'completion-nn', quadrants)} | "
              f"{TUTORIAL['completion'][i]} | {TUTORIAL['completion-nn'][i]} |")


if __name__ == "__main__":
    main()
