#!/usr/bin/env bash
# Issue 16's clustering runs, as they were run: VaDE (--model vade: q(y | x) = p(y | z), a 784-500-500-2000-10
# encoder and its mirror, dynamic binarization, Adam lr 0.001, batch 100), its autoencoder pretrained for 10 or 30
# epochs before the mixture is set to the k-means clusters of the codes. Each epoch logs the validation clustering
# accuracy, both matchings; evaluate prints the test ones. About 30-45 s an epoch on one core here.
#
#   bash experiments/vade.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
train() {  # NAME FLAGS...
  $PY run.py train --model vade --name "$1" --overwrite "${@:2}"
  $PY run.py evaluate "runs/$1" --iw-samples 0
}
train vade-s0 --seed 0 --epochs 30
train vade-s1 --seed 1 --epochs 20
train vade-s2 --seed 2 --epochs 20
train vade-p30-s0 --seed 0 --epochs 15 --pretrain 30
# issue 16's side by side (docs/discrete.md): the reference's learning rate, 2e-3, for the pretraining and VaDE both
train vade-lr2e3-s0 --seed 0 --epochs 20 --lr 0.002
train vade-lr2e3-p1e3-s0 --seed 0 --epochs 20 --lr 0.002 --pretrain-lr 0.001
# the reference's pretraining (squared error to the grey pixels, at 1e-3), then VaDE at 2e-3, 50 epochs, 3 seeds
for seed in 0 1 2; do
  train "vade-mse-s$seed" --seed "$seed" --epochs 50 --lr 0.002 --pretrain-lr 0.001 --pretrain-loss squared-error
done
