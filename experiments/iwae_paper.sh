#!/usr/bin/env bash
# The first rows of the IWAE paper's MNIST table (Burda et al. 2015, Table 1, one stochastic layer) at a CPU budget:
# the 784-200-200-50 tanh VAE trained on the ELBO (k = 1) and on the IWAE bound with k = 5 and k = 50, 60k training
# images (--train-on-valid), dynamic binarization, batch 100, Adam 1e-3, the same number of epochs each; then the test
# NLL with k = 5000 importance samples, and the picture of the estimate against k (docs/iwae-bounds.png).
#
#   bash experiments/iwae_paper.sh [EPOCHS]      # default 50: about 1 h 10 min on a 2-core CPU, most of it IWAE k = 50
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-50}
PY=${PY:-.venv/bin/python}
$PY run.py train --epochs "$EPOCHS" --train-on-valid --name "vae-$EPOCHS" --overwrite
$PY run.py train --elbo iwae --num-particles 5 --epochs "$EPOCHS" --train-on-valid --name "iwae5-$EPOCHS" --overwrite
$PY run.py train --elbo iwae --num-particles 50 --epochs "$EPOCHS" --train-on-valid --name "iwae50-$EPOCHS" --overwrite
for run in "vae-$EPOCHS" "iwae5-$EPOCHS" "iwae50-$EPOCHS"; do
  $PY run.py evaluate "runs/$run" --iw-samples 5000
done
$PY experiments/iwae_bounds.py "runs/vae-$EPOCHS" "runs/iwae5-$EPOCHS" "runs/iwae50-$EPOCHS" -o docs/iwae-bounds.png
