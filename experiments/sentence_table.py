"""Issue 17's ablation table (test NLL, KL term, perplexity and active units per run, beside the papers' rows), and
the KL term and the KL weight over training for each run, in one figure.

    python experiments/sentence_table.py RUN_DIR... [-o docs/sentence-kl.png]
"""
import argparse
from pathlib import Path

from tables import print_table

from ppl_vae import rundir
from ppl_vae.plots import plt, save_figure

PAPERS = [  # (model, test NLL per sentence, perplexity, KL), the Penn Treebank
    ("LSTM-VAE, texar's examples/vae_text README", "101.92", "104.61", "—"),
    ("Sentence-VAE (timbmg)", "103.97", "—", "7.27"),
]


def evaluation(run_dir):
    """The run's evaluation file with the importance-weighted NLL (experiments/sentence_vae.sh: k = 100, 500
    sentences)."""
    return rundir.read_json(sorted(run_dir.glob("evaluation-k*.json"))[0])


def row(run_dir):
    results, config = evaluation(run_dir), rundir.read_json(run_dir / rundir.CONFIG)
    layer = results.get("layers", {}).get("z")
    anneal, schedule = config["train"]["kl_anneal"], config["train"]["kl_schedule"]
    warm_up = f"warm-up {anneal} steps ({schedule})" if anneal else "no warm-up"
    flags = f"{warm_up}, word dropout {config['model']['word_dropout']}" if config["model"]["latent"] else "no z"
    if config["guide"]["name"] == "delta":
        flags += "; a point-mass guide (no bound on log p(x))"
    bounded = "test_nll" in results
    return (f"`{run_dir.name}`", flags, len(rundir.read_metrics(run_dir)),
            f"{results['test_nll']:.2f} ± {results['test_nll_se']:.2f}" if bounded else "—",
            f"{layer['kl']:.2f}" if layer else "—", f"{results['test_ppl']:.1f}" if bounded else "—",
            f"{layer['active']} of {layer['units']}" if layer else "—")


def save_kl_figure(path, run_dirs):
    fig, (kl_axis, weight_axis) = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for run_dir in run_dirs:
        metrics = rundir.read_metrics(run_dir)
        epochs = [m["epoch"] for m in metrics]
        kl_axis.plot(epochs, [m["valid_recon"] - m["valid_elbo"] for m in metrics], marker="o", label=run_dir.name)
        weight_axis.plot(epochs, [m["kl_weight"] for m in metrics], marker="o", label=run_dir.name)
    kl_axis.set(xlabel="epoch", ylabel="validation KL term (nats per sentence)")
    weight_axis.set(xlabel="epoch", ylabel="KL weight at the epoch's end")
    kl_axis.legend(fontsize=7)
    save_figure(fig, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/sentence-kl.png"))
    args = parser.parse_args()
    print_table(("run", "setting", "epochs", "test NLL", "KL term", "perplexity", "active units"),
                [row(run_dir) for run_dir in args.run_dirs] + [(name, "", "", nll, kl, ppl, "") for name, nll, ppl, kl
                                                               in PAPERS])
    save_kl_figure(args.output, [d for d in args.run_dirs if evaluation(d).get("layers")])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
