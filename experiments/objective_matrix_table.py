"""Issue 21's objective matrix: rows the model's objective, columns the guide's, each cell the test NLL (k = 1000,
the first 2 000 test images) and the test ELBO of that run (`run.py evaluate RUN --iw-samples 1000 --test-images
2000` writes evaluation-k1000-n2000.json); then each cell's NLL minus the plain VAE's (ELBO on both sides), image by
image on the same images, with the standard error of that paired difference.

    python experiments/objective_matrix_table.py RUN_DIR...
"""
import sys
from pathlib import Path

import numpy as np

from ppl_vae import rundir
from tables import print_table

NAMES = {"trace": "ELBO", "iwae": "IWAE", "wake": "wake-wake"}


def main():
    cells, log_px = {}, {}
    for run_dir in map(Path, sys.argv[1:]):
        train = rundir.read_json(run_dir / rundir.CONFIG)["train"]
        results = rundir.read_json(run_dir / "evaluation-k1000-n2000.json")
        cell = train["elbo"], train["guide_objective"] or train["elbo"]
        cells[cell] = f"{results['test_nll']:.2f} ± {results['test_nll_se']:.2f} (ELBO {results['test_elbo']:.2f})"
        log_px[cell] = np.load(run_dir / "test_log_likelihood-k1000-n2000.npy")
    rows = [r for r in NAMES if any(model == r for model, _ in cells)]
    columns = [c for c in NAMES if any(guide == c for _, guide in cells)]
    header = ("model's objective \\ guide's objective", *(NAMES[c] for c in columns))
    print_table(header, [(NAMES[r], *(cells.get((r, c), "—") for c in columns)) for r in rows])
    if ("trace", "trace") in log_px:
        print()

        def paired(cell):
            difference = log_px[("trace", "trace")] - log_px[cell]  # NLL minus the VAE's
            return f"{difference.mean():+.2f} ± {difference.std(ddof=1) / len(difference) ** 0.5:.2f}"

        print_table(header, [(NAMES[r], *(paired((r, c)) if (r, c) in log_px else "—" for c in columns))
                             for r in rows])


if __name__ == "__main__":
    main()
