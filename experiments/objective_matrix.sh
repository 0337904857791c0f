#!/usr/bin/env bash
# Issue 21's objective matrix (Lopez et al. 2018): the MNIST VAE with the model's parameters trained on one objective
# (--elbo) and the guide's on another (--guide-objective), K = 5 draws per image for every objective (the ELBO
# averaged over 5 draws, the IWAE bound, reweighted wake-wake), both sides on the same draws, 5 epochs, seed 0; then
# the NLL of the first 2 000 test images with k = 1000. The model row "wake" is not run: wake-theta's gradient is the
# IWAE bound's (tests/test_objectives.py), so it would repeat the row "iwae".
#
#   bash experiments/objective_matrix.sh [EPOCHS]; python experiments/objective_matrix_table.py runs/matrix-*
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-5}
PY=${PY:-.venv/bin/python}
for model_objective in trace iwae; do
  for guide_objective in trace iwae wake; do
    name="matrix-$model_objective-$guide_objective"
    $PY run.py train --model vae --elbo "$model_objective" --guide-objective "$guide_objective" --num-particles 5 \
      --epochs "$EPOCHS" --seed 0 --name "$name" --overwrite
    $PY run.py evaluate "runs/$name" --iw-samples 1000 --test-images 2000 --overwrite
  done
done
