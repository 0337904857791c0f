#!/usr/bin/env bash
# Issue 16's M2 runs with the oversampled schedule, as they were run: Pyro's settings (grey digits as Bernoulli
# targets, 784-500 softplus networks, 50 latent units, batch 200, Adam lr 0.00042, alpha 46, Pyro's initialization),
# the validation accuracy picking the epoch; then the probes of what counters the decline after the peak. About 45 s
# an epoch on one core here, three runs sharing two cores. Seed 0 at N = 100 is runs/over-100-s0 of
# experiments/m2_side_by_side.sh (12 epochs). Then: python experiments/m2_table.py
#
#   bash experiments/m2_schedules.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
common=(--model m2 --binarize none --lr 0.00042 --batch-size 200 --schedule oversampled --overwrite)
train() {  # NAME FLAGS...: train, then print the test accuracy of the epoch picked
  $PY run.py train --name "$1" "${common[@]}" "${@:2}"
  $PY run.py evaluate "runs/$1" --iw-samples 0
}
train over-100-s1 --labelled 100 --seed 1 --epochs 15
train over-100-s2 --labelled 100 --seed 2 --epochs 15
train over-3000-s0 --labelled 3000 --seed 0 --epochs 15
train over-600-s0 --labelled 600 --seed 0 --epochs 15
train over-1000-s0 --labelled 1000 --seed 0 --epochs 15
# one thing at a time against over-100-s0: alpha 5 instead of 46; a warm-up of the latent sites' weight (z's KL
# term, and for an unlabelled image y's, the entropy of q(y | x) with it) over 10 epochs
train probe-over-100-a5-s0 --labelled 100 --seed 0 --alpha 5 --epochs 10
train probe-over-100-kl-s0 --labelled 100 --seed 0 --kl-anneal 2500 --epochs 10
