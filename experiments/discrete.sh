#!/usr/bin/env bash
# Issue 7's table: the discrete-latent VAEs on MNIST at a CPU budget. 60k training images (--train-on-valid),
# dynamic binarization, batch 100, Adam 1e-3. The categorical VAE for 50 epochs (30 000 steps; the temperature
# reaches its floor at 24 000), plain and straight-through, scored with k = 1000 importance samples as Jang et al.
# score theirs; the Gaussian mixtures (learned and uniform weights, with and without the KL warm-up): clustering
# accuracy, and the NLL with k = 1000 and the 10 clusters summed, on the first 2000 test images; the VQ-VAE's
# reconstruction, codebook use and samples from its PixelCNN prior. Then the table.
#
#   bash experiments/discrete.sh [EPOCHS] [GMVAE_EPOCHS] [VQVAE_EPOCHS]   # defaults 50, 10, 10: about 4 h
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-50}
GMVAE_EPOCHS=${2:-10}
VQVAE_EPOCHS=${3:-10}
PY=${PY:-.venv/bin/python}
$PY run.py train --model categorical --epochs "$EPOCHS" --train-on-valid --name "categorical-$EPOCHS" --overwrite
$PY run.py train --model categorical --straight-through --epochs "$EPOCHS" --train-on-valid \
  --name "categorical-st-$EPOCHS" --overwrite
# the mixtures with the KL warm-up over 6000 steps (the default) and without it
$PY run.py train --model gmvae --epochs "$GMVAE_EPOCHS" --train-on-valid --name "gmvae-warmup-$GMVAE_EPOCHS" \
  --overwrite
$PY run.py train --model gmvae --uniform-weights --epochs "$GMVAE_EPOCHS" --train-on-valid \
  --name "gmvae-uniform-warmup-$GMVAE_EPOCHS" --overwrite
$PY run.py train --model gmvae --kl-anneal 0 --epochs "$GMVAE_EPOCHS" --train-on-valid \
  --name "gmvae-learned-$GMVAE_EPOCHS" --overwrite
$PY run.py train --model gmvae --uniform-weights --kl-anneal 0 --epochs "$GMVAE_EPOCHS" --train-on-valid \
  --name "gmvae-uniform-$GMVAE_EPOCHS" --overwrite
$PY run.py train --model vqvae --epochs "$VQVAE_EPOCHS" --train-on-valid --name "vqvae-$VQVAE_EPOCHS" --overwrite
for run in "categorical-$EPOCHS" "categorical-st-$EPOCHS"; do
  $PY run.py evaluate "runs/$run" --iw-samples 1000
done
for run in "gmvae-warmup-$GMVAE_EPOCHS" "gmvae-uniform-warmup-$GMVAE_EPOCHS" "gmvae-learned-$GMVAE_EPOCHS" \
  "gmvae-uniform-$GMVAE_EPOCHS"; do
  $PY run.py evaluate "runs/$run" --iw-samples 1000 --test-images 2000
done
$PY run.py evaluate "runs/vqvae-$VQVAE_EPOCHS"
$PY run.py sample "runs/vqvae-$VQVAE_EPOCHS" -o docs/vqvae-samples.png
cp "runs/vqvae-$VQVAE_EPOCHS/reconstructions.png" docs/vqvae-reconstructions.png
$PY experiments/discrete_table.py "runs/categorical-$EPOCHS" "runs/categorical-st-$EPOCHS" \
  "runs/gmvae-warmup-$GMVAE_EPOCHS" "runs/gmvae-uniform-warmup-$GMVAE_EPOCHS" "runs/gmvae-learned-$GMVAE_EPOCHS" \
  "runs/gmvae-uniform-$GMVAE_EPOCHS" "runs/vqvae-$VQVAE_EPOCHS"
