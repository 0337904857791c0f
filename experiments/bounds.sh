#!/usr/bin/env bash
# Issue 21's "How tight is the estimate?": two MNIST pairs trained 10 epochs each (the VAE on the ELBO, and the same
# networks on the IWAE bound with k = 5), then for each `run.py bounds`: IWAE_k for k = 1 ... 5000, AIS with 100 and
# 1000 sigmoid-spaced steps (16 chains, 10 leapfrog steps per HMC move) on the first 100 test images, and the same
# plus reverse AIS (BDMC's upper bound) on 100 images simulated from each model; about 25 minutes of bounds per run
# on one core. Then: python experiments/bounds_table.py runs/bounds-vae runs/bounds-iwae5
#
#   bash experiments/bounds.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-10}
PY=${PY:-.venv/bin/python}
$PY run.py train --model vae --epochs "$EPOCHS" --name "bounds-vae" --overwrite
$PY run.py train --model vae --elbo iwae --num-particles 5 --epochs "$EPOCHS" --name "bounds-iwae5" --overwrite
for run in bounds-vae bounds-iwae5; do
  $PY run.py bounds "runs/$run" --overwrite
done
