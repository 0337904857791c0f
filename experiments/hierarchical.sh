#!/usr/bin/env bash
# Issue 6's table: the hierarchical VAEs at a CPU budget, beside the papers' MNIST rows. 60k training images
# (--train-on-valid), dynamic binarization, batch 100, Adam 1e-3, as the one-layer rows of experiments/iwae_paper.sh;
# the test NLL with k = 5000 importance samples (the NVAE's on the first 100 test images: 5000 samples of all 10 000
# would take a day on this CPU); then the per-layer diagnostics picture (docs/hierarchical-layers.png) and the table.
#
#   bash experiments/hierarchical.sh [EPOCHS] [NVAE_EPOCHS]   # defaults 50 and 15: about 4 h on a 2-core CPU
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-50}
NVAE_EPOCHS=${2:-15}
PY=${PY:-.venv/bin/python}
$PY run.py train --model vae2 --epochs "$EPOCHS" --train-on-valid --name "vae2-$EPOCHS" --overwrite
$PY run.py train --model lvae --epochs "$EPOCHS" --train-on-valid --name "lvae-$EPOCHS" --overwrite
# the KL warm-up over the first 30% of the steps (600 in an epoch of 60k images), as NVAE's
$PY run.py train --model nvae --epochs "$NVAE_EPOCHS" --kl-anneal $((NVAE_EPOCHS * 180)) --train-on-valid \
  --name "nvae-$NVAE_EPOCHS" --overwrite
for run in "vae2-$EPOCHS" "lvae-$EPOCHS"; do
  $PY run.py evaluate "runs/$run" --iw-samples 5000
done
$PY run.py evaluate "runs/nvae-$NVAE_EPOCHS" --iw-samples 5000 --test-images 100
$PY run.py plot "runs/vae2-$EPOCHS" "runs/lvae-$EPOCHS" "runs/nvae-$NVAE_EPOCHS" --kind layers \
  -o docs/hierarchical-layers.png
$PY experiments/hierarchical_table.py "runs/vae2-$EPOCHS" "runs/lvae-$EPOCHS" "runs/nvae-$NVAE_EPOCHS"
