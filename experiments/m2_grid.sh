#!/usr/bin/env bash
# Semi-supervised MNIST (Kingma et al. 2014): the runs of the README's table, as they were run. Settings of Pyro's
# example: grey digits as Bernoulli targets, batch 200, Adam lr 0.00042, N(0, 0.001) initialization; N labelled
# training images, balanced and drawn with the seed; the validation accuracy picks the epoch. The runs stopped early
# by hand are given the epochs they ran (a run's first E epochs are those of --epochs E). One core, about 35 s an
# epoch for M2 on pixels, 25 s for M1+M2: roughly 3 hours in all, estimated from those times.
#
#   bash experiments/m2_grid.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
common=(--binarize none --lr 0.00042 --batch-size 200 --seed 0)
train() {  # NAME FLAGS...: train, then print the test accuracy of the epoch picked
  $PY run.py train --name "$1" --overwrite "${common[@]}" "${@:2}"
  $PY run.py evaluate "runs/$1" --iw-samples 0
}
# M2 with Pyro's alpha 46 (N = 100 stopped after 15 epochs, its validation accuracy past its peak at epoch 10)
train m2-100-s0 --model m2 --labelled 100 --epochs 15
train m2-3000-s0 --model m2 --labelled 3000 --epochs 30
# M2 with alpha 460 (N = 100 stopped after 17 epochs, past its peak at epoch 10)
train m2-100-a460-s0 --model m2 --labelled 100 --alpha 460 --epochs 17
train m2-600-a460-s0 --model m2 --labelled 600 --alpha 460 --epochs 30
train m2-1000-a460-s0 --model m2 --labelled 1000 --alpha 460 --epochs 30
# smaller latents, to leave the class to y (10 epochs)
train m2-100-a460-z10 --model m2 --labelled 100 --alpha 460 --latent 10 --epochs 10
train m2-100-a460-z2 --model m2 --labelled 100 --alpha 460 --latent 2 --epochs 10
# M1+M2: M1 is the 784-200-200-50 VAE of experiments/iwae_paper.sh, 100 epochs on the 60 000 training and
# validation images (no labels); M2 on its codes
[ -e runs/vae-100/checkpoint.pt ] || $PY run.py train --model vae --train-on-valid --epochs 100 --name vae-100
train m1m2-100-s0 --model m1m2 --codes-of runs/vae-100 --labelled 100 --epochs 16
train m1m2-100-a4600 --model m1m2 --codes-of runs/vae-100 --labelled 100 --alpha 4600 --epochs 12
for n in 100 600 1000 3000; do
  train m1m2-$n-a460 --model m1m2 --codes-of runs/vae-100 --labelled $n --alpha 460 --epochs 12
done
# The notes' experiment: 10 000 labels, the classifier alone, then with the VAE (M2)
train classifier-10000 --model m2 --labelled 10000 --supervised-only --batch-size 100 --epochs 100
train m2-10000-s0 --model m2 --labelled 10000 --epochs 20
# The analogies, beside a label-conditional VAE's
$PY run.py train --model cvae --binarize none --epochs 10 --name cvae-10 --overwrite
$PY run.py plot runs/cvae-10 runs/m2-3000-s0 --kind analogies -o docs/m2-analogies.png
$PY run.py sample runs/cvae-10 -n 10 -o docs/cvae-samples.png
$PY experiments/m2_table.py
