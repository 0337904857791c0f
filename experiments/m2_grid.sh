#!/usr/bin/env bash
# Semi-supervised MNIST (Kingma et al. 2014) with the settings of Pyro's example: grey digits as Bernoulli targets,
# batch 200, Adam lr 0.00042, alpha 46, N(0, 0.001) initialization; N labelled training images, balanced and drawn
# with the seed; validation accuracy picks the epoch. Then M1+M2 on the codes of a trained VAE (M1), the classifier
# alone on 10 000 labels and M2 with them, and the table.
# Usage: bash experiments/m2_grid.sh [EPOCHS] [SEEDS...]   (default 30 epochs, seed 0; about 30 s an epoch on 1 core)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
epochs=${1:-30}
seeds=("${@:2}")
[ ${#seeds[@]} -gt 0 ] || seeds=(0)
common=(--binarize none --lr 0.00042 --batch-size 200)
for seed in "${seeds[@]}"; do
  for n in 100 600 1000 3000; do
    $PY run.py train --model m2 --labelled $n --seed $seed "${common[@]}" --epochs "$epochs" --name m2-$n-s$seed --overwrite
    $PY run.py evaluate runs/m2-$n-s$seed --iw-samples 0
  done
done
# M1: the 784-200-200-50 VAE of experiments/iwae_paper.sh (100 epochs, dynamic binarization); M2 on its codes
[ -e runs/vae-100/best.pt ] || [ -e runs/vae-100/checkpoint.pt ] || \
  $PY run.py train --model vae --train-on-valid --epochs 100 --name vae-100
for n in 100 600 1000 3000; do
  $PY run.py train --model m1m2 --m1 runs/vae-100 --labelled $n --seed 0 "${common[@]}" --epochs 20 \
    --name m1m2-$n-s0 --overwrite
  $PY run.py evaluate runs/m1m2-$n-s0 --iw-samples 0
done
# The notes' experiment: 10 000 labels, the classifier alone, then with the VAE (M2)
$PY run.py train --model m2 --labelled 10000 --supervised-only --binarize none --lr 0.00042 --epochs 100 \
  --name classifier-10000 --overwrite
$PY run.py evaluate runs/classifier-10000 --iw-samples 0
$PY run.py train --model m2 --labelled 10000 --seed 0 "${common[@]}" --epochs 20 --name m2-10000-s0 --overwrite
$PY run.py evaluate runs/m2-10000-s0 --iw-samples 0
$PY run.py plot runs/m2-100-s0 runs/m2-3000-s0 --kind analogies -o docs/m2-analogies.png
$PY experiments/m2_table.py
