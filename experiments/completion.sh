#!/usr/bin/env bash
# Image completion (Sohn et al. 2015; Pyro's CVAE tutorial): the CVAE and the deterministic baseline for 1, 2 and 3
# seen quadrants of grey MNIST digits, batch 128, Adam 1e-3, the epoch picked by the validation ELBO; then the
# negative conditional log-likelihood of the hidden pixels on the 10 000 test digits, importance-sampled with k = 100,
# the table, and the picture of completions.
#
#   bash experiments/completion.sh [EPOCHS]   # default 30 (the tutorial: up to 50, early stopping); about 1 h 30 min
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
epochs=${1:-30}
for q in 1 2 3; do
  for model in completion-nn completion; do
    $PY run.py train --model $model --quadrants $q --binarize none --batch-size 128 --lr 1e-3 --epochs "$epochs" \
      --name $model-q$q --overwrite
    $PY run.py evaluate runs/$model-q$q --iw-samples 100
  done
done
cp runs/completion-q2/samples.png docs/completion.png
$PY experiments/completion_table.py
