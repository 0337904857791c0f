#!/usr/bin/env bash
# Issue 16's M1+M2 runs with Kingma et al.'s features, and the notes' 10 000-label experiment, as they were run (one
# core each, OMP_NUM_THREADS=1). M1: a 784-500-500-50 VAE (tanh, dynamic binarization, 100 epochs on the 50 000
# training images, about 10 s an epoch). M1+M2 as Kingma et al.'s code (nips14-ssl, learn_yz_x_ss.py and
# run_2layer_ssl.py): M1's units whose means vary with a standard deviation above 0.1 (22 of 50 here), a fresh draw
# z1 ~ q(z1 | x) of every image in every minibatch, a 300-unit M2, alpha 0.1 x 50 000 / 100 = 50 per labelled image,
# 100 minibatches an epoch each holding one labelled image (every-step, labelled batch 1, batch 499, so each labelled
# image weighs what an unlabelled one does), Adam lr 0.0003; about 7 s an epoch. m1m2k-100-s0 was stopped after 116
# epochs, its validation accuracy flat near 0.79 from epoch 40. Then the labelled set in every step (oversampled).
# The 10 000 labels: M2 with Pyro's settings for 50 epochs, and the classifier alone with the same settings.
#
#   bash experiments/m1m2.sh; python experiments/m2_table.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
evaluate() { $PY run.py evaluate "runs/$1" --iw-samples 0; }
$PY run.py train --model vae --hidden 500 500 --latent 50 --epochs 100 --name m1-500 --seed 0 --overwrite
kingma=(--model m1m2 --codes-of runs/m1-500 --labelled 100 --active-units 0.1 --sampled-codes --hidden 300 --alpha 50 --batch-size 499
        --lr 0.0003 --binarize none --seed 0 --overwrite)
$PY run.py train "${kingma[@]}" --schedule every-step --labelled-batch 1 --epochs 116 --name m1m2k-100-s0
evaluate m1m2k-100-s0
for seed in 0 1 2; do  # three labelled subsets; M1 is the same
  $PY run.py train "${kingma[@]}" --schedule oversampled --labelled-batch 100 --epochs 60 --seed $seed \
    --name m1m2k-over-100-s$seed
  evaluate m1m2k-over-100-s$seed
done
pyro_settings=(--model m2 --labelled 10000 --binarize none --lr 0.00042 --seed 0 --overwrite)
$PY run.py train "${pyro_settings[@]}" --batch-size 200 --epochs 50 --name m2-10000-p50
evaluate m2-10000-p50
$PY run.py train "${pyro_settings[@]}" --supervised-only --batch-size 100 --epochs 100 --name classifier-10000-p
evaluate classifier-10000-p
