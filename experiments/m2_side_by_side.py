"""Issue 16's figure: validation accuracy of q(y | x) per epoch, Pyro's ss_vae_M2.py (its log) beside our runs (their
metrics.jsonl), on the same validation images.

    python experiments/m2_side_by_side.py PYRO_LOG RUN_DIR... [-o docs/m2-side-by-side.png]
"""
import argparse
import re

from ppl_vae import rundir
from ppl_vae.plots import plt, save_figure


def pyro_curve(log):
    """(epoch, validation accuracy) from the lines "E epoch: avg losses ... validation accuracy V test accuracy T",
    E counted from 0."""
    found = re.findall(r"^(\d+) epoch:.*validation accuracy ([\d.]+)", open(log).read(), re.M)
    return [int(e) + 1 for e, _ in found], [float(v) for _, v in found]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pyro_log")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("-o", "--output", default="docs/m2-side-by-side.png")
    args = parser.parse_args()

    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(*pyro_curve(args.pyro_log), "k-", lw=2, label="Pyro's ss_vae_M2.py")
    for run in args.runs:
        config, metrics = rundir.read_json(f"{run}/{rundir.CONFIG}"), rundir.read_metrics(run)
        model = config["model"]
        label = f"ours, {model.get('schedule', 'spread')}, alpha {model['alpha']:g}"
        ax.plot([m["epoch"] for m in metrics], [m["valid_accuracy"] for m in metrics], label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy of q(y | x)")
    ax.set_title("M2, 100 labels (seed 0): the same labelled and validation images")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, args.output)


if __name__ == "__main__":
    main()
