"""Issues 16 and 31: the accuracy of q(y | x) per epoch, Pyro's ss_vae_M2.py (its log) beside our runs (their
metrics.jsonl), on the same validation and test images: a figure of one split's curves, and with --table the
per-epoch table of both splits.

    python experiments/m2_side_by_side.py PYRO_LOG RUN_DIR... [--split valid|test] [--table] [-o FIGURE.png]
(issue 16: runs/pyro-ss-vae-100-s0.log runs/spread-100-s0 ... -o docs/m2-side-by-side.png;
 issue 31: runs/pyro-ss-vae-3000-s0.log runs/m2-3000-pyro-flags-s0 runs/m2-3000-pyro-flags-lr2-s0 --split test
           --table -o docs/m2-side-by-side-3000.png)
"""
import argparse
import re

from ppl_vae import rundir
from ppl_vae.plots import plt, save_figure

SPLITS = {"valid": "validation", "test": "test"}


def pyro_curves(log):
    """{split: [accuracy per epoch]} from its lines "E epoch: avg losses ... validation accuracy V test accuracy T",
    E counted from 0."""
    found = re.findall(r"^\d+ epoch:.*validation accuracy ([\d.]+) test accuracy ([\d.]+)", open(log).read(), re.M)
    return {"valid": [float(v) for v, _ in found], "test": [float(t) for _, t in found]}


def our_curves(run):
    """(label, {split: [accuracy per epoch]}): our runs log the test accuracy per epoch since issue 31."""
    config, metrics = rundir.read_json(f"{run}/{rundir.CONFIG}"), rundir.read_metrics(run)
    scheme = config["scheme"]
    label = f"ours, {scheme['schedule']}, alpha {scheme['alpha']:g}, lr {config['train']['lr']:g}"
    return label, {split: [m[f"{split}_accuracy"] for m in metrics if f"{split}_accuracy" in m] for split in SPLITS}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pyro_log")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--split", choices=list(SPLITS), default="valid", help="whose accuracy the figure shows")
    parser.add_argument("--table", action="store_true", help="print the per-epoch accuracies as a markdown table")
    parser.add_argument("-o", "--output", default="docs/m2-side-by-side.png")
    args = parser.parse_args()

    curves = {"Pyro's ss_vae_M2.py": pyro_curves(args.pyro_log), **dict(our_curves(run) for run in args.runs)}
    labelled = rundir.read_json(f"{args.runs[0]}/{rundir.CONFIG}")["scheme"]["labelled"]
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, (label, by_split) in enumerate(curves.items()):
        values = by_split[args.split]
        ax.plot(range(1, len(values) + 1), values, "k-" if i == 0 else "-", lw=2 if i == 0 else 1.5, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{SPLITS[args.split]} accuracy of q(y | x)")
    ax.set_title(f"M2, {labelled} labels (seed 0): the same labelled, validation and test images")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, args.output)
    if args.table:
        names = list(curves)
        print("| epoch | " + " | ".join(f"{name}: validation / test" for name in names) + " |")
        print("|---" * (len(names) + 1) + "|")
        for epoch in range(max(len(c["valid"]) for c in curves.values())):
            cells = [f"{c['valid'][epoch]:.4f} / {c['test'][epoch]:.4f}" if epoch < len(c["test"]) else "—"
                     for c in curves.values()]
            print(f"| {epoch + 1} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
