"""The lecture notes' autoencoder table beside ours: summed binary cross-entropy per image (minus the reconstruction
term log p(x | z) of `run.py evaluate`) on the training and validation images, for the runs given.

    python experiments/ae_table.py runs/ae-2d runs/ae-2d-range runs/ae-small-2d runs/ae-small-2d-range runs/vae-2d
"""
import argparse
from pathlib import Path

from ppl_vae import rundir
from ppl_vae.runs.configuration import load_config

NOTES = {  # the notes' (train, valid) BCE
    "ae-2d": (125.04, 133.97), "ae-small-2d": (140.60, 144.94), "ae-small-2d-range": (141.77, 145.46),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+")
    args = parser.parse_args()
    print("| run | epochs | hidden | code range | train BCE | valid BCE | test NLL (k = 5000) | notes: train / valid |")
    print("|---|---|---|---|---|---|---|---|")
    for run_dir in args.run_dirs:
        config = load_config(run_dir)
        results = rundir.read_json(run_dir / rundir.EVALUATION)
        nll = f"{results['test_nll']:.2f} ± {results['test_nll_se']:.2f}" if "test_nll" in results else "—"
        notes = " / ".join(f"{v:.2f}" for v in NOTES[run_dir.name]) if run_dir.name in NOTES else "—"
        print(f"| {run_dir.name} | {config['train']['epochs']} | {config['model']['hidden']} | "
              f"{config['guide'].get('code_range') or '—'} | {-results['train_recon']:.2f} | "
              f"{-results['valid_recon']:.2f} | {nll} | {notes} |")


if __name__ == "__main__":
    main()
