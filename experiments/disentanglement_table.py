"""Issue 18's two tables: per objective, over its seeds (mean ± sd), the disentanglement scores of the code (the mean
of q(z | x); MIG also from the posteriors, Chen et al.'s estimate) against the known factors; then the test
reconstruction term, the ELBO, the NLL (k = 100) and the KL term's three parts (`run.py evaluate RUN --iw-samples
100` writes evaluation-k100.json).

    python experiments/disentanglement_table.py [--evaluation evaluation-k0.json] RUN_DIR...
"""
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from ppl_vae import rundir
from tables import print_table

SCORES = {"mig_posterior": "MIG (q)", "mig_posterior_without_shape": "MIG (q) without shape",
          "mig": "MIG (histogram)", "mig_without_shape": "MIG (histogram) without shape", "sap": "SAP",
          "factor_vae_score": "FactorVAE score", "dci_disentanglement": "DCI disentanglement",
          "dci_completeness": "DCI completeness", "dci_informativeness": "DCI informativeness"}
PARTS = ("index_code_mi", "total_correlation", "dimension_wise_kl")


def objective(config):
    train = config["train"]
    guide = config["guide"]
    if guide["name"] == "factor-vae":
        return f"FactorVAE, gamma {guide['gamma']:g}"
    if guide["name"] == "dip-vae":
        return f"DIP-VAE-{guide['dip'].upper()}, lambda_od {guide['lambda_od']:g}"
    if train["elbo"] == "tcvae":
        return f"beta-TCVAE, beta {train['tc_weight']:g}"
    return "VAE" if train["beta"] == 1 else f"beta-VAE, beta {train['beta']:g}"


def spread(values):
    values = np.array(values)
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main():
    arguments = sys.argv[1:]
    evaluation = "evaluation-k100.json"
    if arguments[0] == "--evaluation":
        evaluation, arguments = arguments[1], arguments[2:]
    groups = defaultdict(list)
    for run_dir in map(Path, arguments):
        results = rundir.read_json(run_dir / evaluation)
        groups[objective(rundir.read_json(run_dir / rundir.CONFIG))].append(results)
    scores, terms = [], []
    for name, runs in groups.items():
        parts = [run["kl_decomposition"]["z"] for run in runs]
        scores.append((name, len(runs), *(spread([run["disentanglement"][s] for run in runs])
                                          if all(s in run["disentanglement"] for run in runs) else "—"
                                          for s in SCORES)))
        terms.append((name, len(runs), spread([-run["test_recon"] for run in runs]),
                      spread([-run["test_elbo"] for run in runs]),
                      spread([run["test_nll"] for run in runs]) if "test_nll" in runs[0] else "—",
                      *(spread([p[part] for p in parts]) for part in PARTS)))
    print_table(("objective", "seeds", *SCORES.values()), scores)
    print()
    print_table(("objective", "seeds", "-log p(x | z)", "-ELBO", "NLL (k = 100)", "index-code MI",
                 "total correlation", "dimension-wise KL"), terms)

if __name__ == "__main__":
    main()
