"""Issue 21's objective matrix: rows the model's objective, columns the guide's, each cell the test NLL (k = 1000,
the first 2 000 test images) and the test ELBO of that run (`run.py evaluate RUN --iw-samples 1000 --test-images
2000` writes evaluation-k1000-n2000.json).

    python experiments/objective_matrix_table.py RUN_DIR...
"""
import sys
from pathlib import Path

from ppl_vae import rundir
from tables import print_table

NAMES = {"trace": "ELBO", "iwae": "IWAE", "wake": "wake-wake"}


def main():
    cells = {}
    for run_dir in map(Path, sys.argv[1:]):
        train = rundir.read_json(run_dir / rundir.CONFIG)["train"]
        results = rundir.read_json(run_dir / "evaluation-k1000-n2000.json")
        cells[train["elbo"], train["guide_objective"] or train["elbo"]] = (
            f"{results['test_nll']:.2f} ± {results['test_nll_se']:.2f} (ELBO {results['test_elbo']:.2f})")
    rows = sorted({model for model, _ in cells})
    columns = [c for c in NAMES if any(guide == c for _, guide in cells)]
    print_table(("model's objective \\ guide's objective", *(NAMES[c] for c in columns)),
                [(NAMES[r], *(cells.get((r, c), "—") for c in columns)) for r in rows])


if __name__ == "__main__":
    main()
