#!/bin/bash
# Image completion (Sohn et al. 2015; Pyro's CVAE tutorial): the CVAE and the deterministic baseline for 1, 2 and 3
# seen quadrants of grey MNIST digits, batch 128, Adam 1e-3, the epoch picked by the validation ELBO; then the
# negative conditional log-likelihood of the hidden pixels on the 10 000 test digits, importance-sampled with k = 100.
# Usage: bash experiments/completion.sh [EPOCHS]   (default 10; the tutorial trains up to 50 with early stopping)
set -euo pipefail
epochs=${1:-10}
for q in 1 2 3; do
  for model in completion-nn completion; do
    name=$model-q$q
    python run.py train --model $model --quadrants $q --binarize none --batch-size 128 --lr 1e-3 \
      --epochs "$epochs" --name $name --overwrite
    python run.py evaluate runs/$name --iw-samples 100
  done
done
python experiments/completion_table.py
