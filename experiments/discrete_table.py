"""Issue 7's table: for each run, the test bounds (the discrete model's: eval mode), and what each kind of model is
judged by (clustering accuracy for a mixture, codebook use and reconstruction for a VQ-VAE), then the papers' rows
(nats per image).

    python experiments/discrete_table.py RUN_DIR...
"""
import sys
from pathlib import Path

from tables import print_table, read_run

PAPERS = [  # (model, result, setting)
    ("categorical VAE, Gumbel-softmax (Jang et al. 2017, Table 1)", "-ELBO 101.5",
     "20 variables of 10 classes, learned categorical prior, bound with m = 1000 samples"),
    ("categorical VAE, straight-through Gumbel-softmax (same table)", "-ELBO 107.8", "as above"),
    ("VaDE (Jiang et al. 2017), 10 clusters", "accuracy 0.9446",
     "one-to-one matching, train and test images, pretrained autoencoder (its code's README)"),
    ("GMVAE (Rui Shu's vae-clustering code), 10 clusters", "accuracy 0.871, 0.817",
     "two runs' last logged test accuracy, each cluster read as its most common digit (many-to-one)"),
]


def row(run_dir):
    config, results, metrics, minutes = read_run(run_dir)
    elbo = f"{-results['test_elbo']:.2f}" if "test_elbo" in results else "—"
    nll = (f"**{results['test_nll']:.2f}** ± {results['test_nll_se']:.2f} (k = {results['iw_samples']}, "
           f"{results['test_images']} images)" if "test_nll" in results else "—")
    also = [f"-log p(x \\| z) {-results['test_recon']:.2f}"]
    if "test_cluster_accuracy" in results:
        also.append(f"clustering accuracy {results['test_cluster_accuracy']:.4f}")
    if "test_perplexity" in results:
        also.append(f"codes used {results['test_codes_used']} of {config['model']['codes']}, perplexity "
                    f"{results['test_perplexity']:.1f}")
    return f"`{run_dir.name}` ({config['variant']})", len(metrics), elbo, nll, "; ".join(also), f"{minutes:.0f} min"


def main():
    print_table(("run", "epochs", "test -ELBO", "test NLL", "also", "training (2-core CPU)"),
                [row(Path(run_dir)) for run_dir in sys.argv[1:]])
    print()
    print_table(("the papers'", "result", "setting"), PAPERS)


if __name__ == "__main__":
    main()
