#!/usr/bin/env bash
# Issue 15's measurements. (1) The approximation gap: the VAE's model (50 latents, 200-200 tanh) with the mean-field
# Gaussian, the full-covariance Gaussian and the inverse-autoregressive-flow guide, trained alike (dynamically
# binarized MNIST, 15 epochs, batch 100, Adam 1e-3, Trace_ELBO for all three, seed 0). (2) Grey MNIST (--binarize
# none) with the Bernoulli and the continuous Bernoulli likelihood (Loaiza-Ganem & Cunningham 2019), and their
# samples side by side (experiments/cb_samples.py). Each run is evaluated on the first 2000 test images with k = 1000; table by
# experiments/guides_likelihoods_table.py.
#
#   bash experiments/guides_likelihoods.sh        # about 45 min on a 2-core CPU
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-15}
train() { $PY run.py train --epochs "$EPOCHS" --overwrite "$@" 2>&1 | grep -v "^epoch" || true; }
evaluate() { $PY run.py evaluate "runs/$1" --iw-samples 1000 --test-images 2000 --overwrite 2>&1 | grep -v "img/s" || true; }
for guide in gaussian fullcov flow; do
  train --model vae --guide "$guide" --elbo trace --name "guide-$guide"
  evaluate "guide-$guide"
done
for likelihood in bernoulli continuous-bernoulli; do
  train --model vae --binarize none --likelihood "$likelihood" --name "grey-$likelihood"
  evaluate "grey-$likelihood"
done
$PY experiments/cb_samples.py runs/grey-bernoulli runs/grey-continuous-bernoulli -o docs/continuous-bernoulli-samples.png
$PY experiments/guides_likelihoods_table.py
