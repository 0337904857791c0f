#!/usr/bin/env bash
# Issue 17's ablation, sized to the 2-core CPU: the first 10 000 training sentences of the Penn Treebank (all 3 370
# validation ones), 128-unit embeddings and LSTMs, a 16-unit code, batches of 32, Adam lr 0.001, 5 epochs (1 565
# steps); the warm-up, where there is one, Bowman et al.'s sigmoid over the first 1 000 steps. The LSTM language model
# is the baseline, the same decoder without z. Each run is evaluated on the first 500 test sentences with k = 100.
# About 1.5 minutes an epoch on one core here. Then: python experiments/sentence_table.py runs/ptb-*
#
#   bash experiments/sentence_vae.sh [RUN_NAME ...]     (the runs named, default all seven)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
common=(--dataset ptb --subset 10000 --units 128 --embedding 128 --epochs 5 --overwrite)
only=("$@")
train() {  # NAME FLAGS...
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " =~ " $1 " ]]; then return; fi
  $PY run.py train --name "$1" "${common[@]}" "${@:2}"
  $PY run.py evaluate "runs/$1" --iw-samples 100 --test-images 500  # the autoencoder: its reconstruction alone
}
train ptb-lm --model lstm-lm
train ptb-vae-plain --model sentence-vae --latent 16 --kl-anneal 0 --word-dropout 0
train ptb-vae-anneal --model sentence-vae --latent 16 --kl-anneal 1000 --word-dropout 0
train ptb-vae-anneal-wd --model sentence-vae --latent 16 --kl-anneal 1000 --word-dropout 0.25
# twice as long, against the language model as long: more word dropout (0.5) and a warm-up over 2 000 steps
train ptb-lm-e10 --model lstm-lm --epochs 10
train ptb-vae-wd50-e10 --model sentence-vae --latent 16 --kl-anneal 2000 --word-dropout 0.5 --epochs 10
# the deterministic sequence autoencoder (no prior term, no word dropout), for the homotopies beside the VAE's
train ptb-ae --model sentence-ae --latent 16 --prior none --word-dropout 0
