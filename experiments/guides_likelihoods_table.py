"""The tables of experiments/guides_likelihoods.sh from its run folders: test NLL (k = 1000, first 2000 test
images) and -ELBO per guide, and per likelihood on grey MNIST.

    python experiments/guides_likelihoods_table.py
"""
from pathlib import Path

from ppl_vae import rundir

RESULTS = "evaluation-k1000-n2000.json"


def row(run, label):
    results = rundir.read_json(Path("runs") / run / RESULTS)
    seconds = sum(m["seconds"] for m in rundir.read_metrics(Path("runs") / run))
    print(f"| {label} | {results['test_nll']:.2f} ± {results['test_nll_se']:.2f} | {-results['test_elbo']:.2f} | "
          f"{results['test_nll'] + results['test_elbo']:.2f} | {seconds / 60:.1f} |")


def main():
    print("| guide | test NLL, k = 1000 | test -ELBO | ELBO gap | training minutes |\n|---|---|---|---|---|")
    for guide in ("gaussian", "fullcov", "flow"):
        row(f"guide-{guide}", guide)
    print("\n| likelihood (grey MNIST) | test NLL, k = 1000 | test -ELBO | ELBO gap | training minutes |\n"
          "|---|---|---|---|---|")
    for likelihood in ("bernoulli", "continuous-bernoulli"):
        row(f"grey-{likelihood}", likelihood)


if __name__ == "__main__":
    main()
