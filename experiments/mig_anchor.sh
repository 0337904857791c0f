#!/usr/bin/env bash
# Issue 31, part 3: rtqichen/beta-tcvae (Chen et al. 2018's own code) set up in ANCHOR_DIR, outside this repository,
# for experiments/mig_anchor.py (their metric on a guide of ours) and experiments/tcvae_anchor_train.py (their
# trainer). Their files are copied and changed only where they cannot run on a CPU with today's Python and torch:
# - every .cuda() call removed; torch.cuda.set_device(...) and `x = x.cuda(async=True)` made `pass` (`async` is a
#   keyword since Python 3.7, so that line does not even parse); use_cuda=True made False;
# - `.data[0]` of a 0-dimensional tensor (the running ELBO) made `.item()`, which torch requires since 0.5.
# Their Variable(..., volatile=True) is left: torch warns that it has no effect. Their data file is our rendered
# dSprites in the official npz's layout (experiments/dsprites_npz.py, about 3 GB), at the path their
# lib/datasets.py reads.
#
#   bash experiments/mig_anchor.sh ANCHOR_GIT_DIR ANCHOR_DIR
# ANCHOR_GIT_DIR: a clone or bare mirror of github.com/rtqichen/beta-tcvae.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
SOURCE=$1
ANCHOR=$(mkdir -p "$2" && cd "$2" && pwd)
for file in disentanglement_metrics.py metric_helpers/mi_metric.py vae_quant.py elbo_decomposition.py \
    lib/utils.py lib/dist.py lib/functions.py lib/flows.py lib/datasets.py; do
  mkdir -p "$ANCHOR/$(dirname "$file")"
  git --git-dir="$SOURCE" show "HEAD:$file" > "$ANCHOR/$file"
done
sed -i -e 's/\.cuda()//g' -e 's/torch\.cuda\.set_device([^)]*)/pass/' -e 's/x = x\.cuda(async=True)/pass/' \
  -e 's/use_cuda=True/use_cuda=False/' -e 's/elbo\.mean()\.data\[0\]/elbo.mean().item()/' \
  "$ANCHOR/disentanglement_metrics.py" "$ANCHOR/vae_quant.py" "$ANCHOR/elbo_decomposition.py"
npz=$ANCHOR/data/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz
[ -f "$npz" ] || { mkdir -p "$ANCHOR/data"; $PY experiments/dsprites_npz.py "$npz"; }
echo "set up in $ANCHOR"
