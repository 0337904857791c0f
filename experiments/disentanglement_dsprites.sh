#!/usr/bin/env bash
# Issue 18's runs on dSprites (rendered here: 717 280 training images of 64 x 64 after the 10 000 + 10 000 held out),
# sized to the CPU: the beta-TCVAE paper's MLP (4096-1200-1200-10 and back), batches of 256, Adam lr 1e-3, ONE epoch
# (2 802 steps; the papers train far longer), seed 0: beta-VAE and beta-TCVAE at the same beta (4) first, then the
# VAE (beta 1) and FactorVAE (gamma 35; its first version, a 5 x 1000 discriminator on the VAE's Adam, was the one
# run: --discriminator 1000 1000 1000 1000 1000), then beta-TCVAE at beta 6.
# About 15-20 minutes an epoch on one core here; two runs at a time. The evaluation scores the code on
# 10 000 training images and splits the KL term on the 10 000 test images (no importance sampling: --iw-samples 0).
# Then: python experiments/disentanglement_table.py --evaluation evaluation-k0.json runs/dsprites-*
#
#   bash experiments/disentanglement_dsprites.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
EPOCHS=${1:-1}
common=(--model vae --dataset dsprites --latent 10 --hidden 1200 1200 --batch-size 256 --epochs "$EPOCHS" --seed 0
        --overwrite)
train() {  # NAME FLAGS...
  $PY run.py train --name "$1" "${common[@]}" "${@:2}" > "runs/$1.log" 2>&1
  $PY run.py evaluate "runs/$1" --iw-samples 0 >> "runs/$1.log" 2>&1
}
mkdir -p runs
train dsprites-beta4 --elbo trace --beta 4 &
train dsprites-tc4 --elbo tcvae --tc-weight 4
wait
train dsprites-vae --elbo trace &
train dsprites-factor35 --elbo trace --guide factor-vae --gamma 35
wait
train dsprites-tc6 --elbo tcvae --tc-weight 6
