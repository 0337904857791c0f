#!/usr/bin/env bash
# Issue 31, part 2: M2 at N = 3000 labels (seed 0), Pyro's own examples/vae/ss_vae_M2.py with the tutorial's flags
# (-sup 3000 -n 50 --aux-loss -alm 46 -enum parallel -zd 50 -hl 500 -lr 0.00042 -b1 0.95 -bs 200), its data loading
# pointed at the arrays and labelled images ppl-vae uses (experiments/m2_pyro_setup.py), beside ours with the same
# settings and Pyro's schedule (`spread`, its labelled batches of 200 too). Both log validation and test accuracy
# per epoch; then the figure docs/m2-side-by-side-3000.png and the table (experiments/m2_side_by_side.py --table).
# Under python -O: the script asserts Pyro 1.9.1 and 1.9.2 is installed (its batching asserts hold at 3000 / 200).
# PYRO names a checkout of Pyro 1.9.1 (git clone https://github.com/pyro-ppl/pyro); its code stays outside the repo.
#
#   PYRO=path/to/pyro bash experiments/m2_side_by_side_3000.sh [pyro|ours]     (default both, one after the other)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
which=${1:-both}
mkdir -p runs
if [ "$which" != ours ]; then
  work=$(mktemp -d)
  cp -r "$PYRO/examples/vae/." "$work/"
  $PY experiments/m2_pyro_setup.py "$work"
  (cd "$work" && PYTHONPATH=stubs SS_SEED=0 $PY -O ss_vae_M2.py --seed 0 -n 50 --aux-loss -alm 46 -enum parallel \
    -sup 3000 -zd 50 -hl 500 -lr 0.00042 -b1 0.95 -bs 200 -log "$OLDPWD/runs/pyro-ss-vae-3000-s0.log")
fi
# Ours twice: at the script's nominal lr, and at about twice it. Pyro's two SVIs share one Adam, and on each unlabelled
# batch the classification SVI's empty step moves every parameter again by its momentum alone
# (experiments/m2_shared_adam.py): nearly two steps a batch, so ours runs once more at 1.95 x 0.00042.
if [ "$which" != pyro ]; then
  for lr in 0.00042 0.00082; do
    name=m2-3000-pyro-flags-s0; [ $lr = 0.00042 ] || name=m2-3000-pyro-flags-lr2-s0
    $PY run.py train --model m2 --labelled 3000 --seed 0 --binarize none --lr $lr --adam-beta1 0.95 \
      --batch-size 200 --labelled-batch 200 --schedule spread --epochs 50 --name $name --overwrite
  done
fi
