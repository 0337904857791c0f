#!/usr/bin/env bash
# Issue 31, part 1, our side: the sentence VAE with timbmg/Sentence-VAE's sizes and schedule (a GRU decoder and a
# one-way GRU encoder, embedding 300, hidden 256, latent 16, batch 32, Adam lr 1e-3, no word dropout, dropout 0.5 on
# the decoder's input embeddings, its logistic KL weight k = 0.0025, x0 = 2500), on the very token sequences its own
# run reads: its ptb.*.json (nltk's TweetTokenizer splits "'s" and "500-stock", and cuts sentences at 60 tokens),
# written back out one sentence per line. 4 epochs, one at a time (each resumes the last exactly), the test split's
# ELBO terms after each (computed as the anchor's: experiments/sentence_side_by_side_table.py --record), and the
# importance-weighted NLL and perplexity (k = 100) at the end.
#
#   bash experiments/sentence_anchor.sh ANCHOR_GIT_DIR ANCHOR_DIR     # first: its run, and its data files
#   bash experiments/sentence_side_by_side.sh ANCHOR_DIR
#   python experiments/sentence_side_by_side_table.py ANCHOR_DIR runs/ptb-timbmg
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ANCHOR=$1
mkdir -p "$ANCHOR/tokens"
$PY - "$ANCHOR" <<'PYTHON'
import json, sys
anchor = sys.argv[1]
words = json.load(open(f"{anchor}/data/ptb.vocab.json"))["i2w"]
for split in ("train", "valid", "test"):
    sentences = json.load(open(f"{anchor}/data/ptb.{split}.json")).values()  # in the order of its text file
    with open(f"{anchor}/tokens/ptb.{split}.txt", "w") as out:
        for s in sentences:  # its target: the words, then <eos>
            out.write(" ".join(words[str(i)] for i in s["target"][: s["length"] - 1]) + "\n")
PYTHON
name=ptb-timbmg
flags=(--model sentence-vae --dataset "$ANCHOR/tokens" --cell gru --one-way-encoder --embedding 300 --units 256
       --latent 16 --batch-size 32 --lr 1e-3 --word-dropout 0 --embedding-dropout 0.5 --kl-anneal 5000
       --kl-schedule sigmoid --kl-steepness 12.5 --seed 0)
for epoch in 1 2 3 4; do  # a rerun goes on from the epochs already done
  done=$(cat runs/$name/metrics.jsonl 2>/dev/null | wc -l)
  if [ "$done" = 0 ]; then
    $PY run.py train --name $name "${flags[@]}" --epochs 1 --overwrite
  elif [ "$done" -lt "$epoch" ]; then
    $PY run.py train --resume runs/$name --epochs "$epoch"
  fi
  $PY experiments/sentence_side_by_side_table.py --record runs/$name "$epoch"
done
# the first 1 000 test sentences (at k = 100 all 3 761 take about an hour on one core here), one sentence a pass
$PY run.py evaluate runs/$name --iw-samples 100 --test-images 1000 --iw-batch-size 1
