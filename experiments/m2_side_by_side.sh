#!/usr/bin/env bash
# Issue 16's side by side at N = 100 (seed 0): Pyro's own examples/vae/ss_vae_M2.py, its data loading pointed at the
# arrays and labelled images ppl-vae uses (experiments/m2_pyro_setup.py), beside ours with the same settings and
# our three schedules; then the figure docs/m2-side-by-side.png. Pyro's script refuses -sup 100 -bs 200 (it asserts
# that the batch size divides N), so it runs under python -O, as the first look in the issue did. Pyro's code is not
# part of this repository: PYRO names a checkout (git clone https://github.com/pyro-ppl/pyro; its 1.9.1 script).
# Each run takes 25-50 min on one core here.
#
#   PYRO=path/to/pyro bash experiments/m2_side_by_side.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
work=$(mktemp -d)
cp -r "$PYRO/examples/vae/." "$work/"
$PY experiments/m2_pyro_setup.py "$work"
mkdir -p runs
(cd "$work" && PYTHONPATH=stubs SS_SEED=0 $PY -O ss_vae_M2.py --seed 0 -n 50 --aux-loss -alm 46 -enum parallel \
  -sup 100 -zd 50 -hl 500 -lr 0.00042 -bs 200 -log "$OLDPWD/runs/pyro-ss-vae-100-s0.log")
common=(--model m2 --labelled 100 --seed 0 --binarize none --lr 0.00042 --batch-size 200 --overwrite)
$PY run.py train "${common[@]}" --schedule spread --epochs 50 --name spread-100-s0
$PY run.py train "${common[@]}" --schedule every-step --epochs 7 --name every-100-s0   # stopped after 7 by hand
$PY run.py train "${common[@]}" --schedule oversampled --epochs 12 --name over-100-s0
$PY experiments/m2_side_by_side.py runs/pyro-ss-vae-100-s0.log runs/spread-100-s0 runs/every-100-s0 runs/over-100-s0
