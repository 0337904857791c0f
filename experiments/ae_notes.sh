#!/usr/bin/env bash
# The lecture notes' autoencoder table with 2-D codes, and its pictures. Four autoencoders (the VAE's model with the
# point-mass guide and --prior none: reconstruction only), with and without their codes squashed into (-1, 1), in
# a large (784-512-256-2) and a small (784-64-32-2) size, then the VAE of the large size with a 2-D latent; grey
# MNIST (--binarize none: the pixel intensities are the targets of the binary cross-entropy), batch 100, Adam 1e-3,
# seed 0. Then the summed BCE per image on the training and validation images (experiments/ae_table.py) and the
# figures in docs/. A 20-D VAE gives the traversal picture.
#
#   bash experiments/ae_notes.sh        # about 40 min on a 2-core CPU alone, an hour beside another run
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
COMMON="--latent 2 --binarize none"
LARGE="--hidden 512 256"
SMALL="--hidden 64 32"
train() { $PY run.py train "$@" --overwrite 2>&1 | grep -v "^epoch" || true; }
train --model ae --prior none $COMMON $LARGE --epochs 100 --name ae-2d
train --model ae --prior none $COMMON $LARGE --code-range 1 --epochs 100 --name ae-2d-range
train --model ae --prior none $COMMON $SMALL --epochs 50 --name ae-small-2d
train --model ae --prior none $COMMON $SMALL --code-range 1 --epochs 50 --name ae-small-2d-range
train --model vae $COMMON $LARGE --epochs 100 --name vae-2d
train --model vae --latent 20 --binarize none $LARGE --epochs 30 --name vae-20d
for run in ae-2d ae-2d-range ae-small-2d ae-small-2d-range vae-2d; do
  $PY run.py evaluate "runs/$run" --iw-samples 5000 2>&1 | grep -v "img/s" || true
done
$PY experiments/ae_table.py runs/ae-2d runs/ae-2d-range runs/ae-small-2d runs/ae-small-2d-range runs/vae-2d
$PY run.py plot runs/ae-2d runs/vae-2d --pca --kind latent -o docs/ae-latent.png
$PY run.py plot runs/ae-2d runs/vae-2d --kind manifold -o docs/ae-manifold.png
$PY run.py plot runs/ae-2d runs/vae-2d --kind samples -o docs/ae-samples.png
$PY run.py plot runs/ae-2d runs/vae-2d --pca --kind interpolation -o docs/ae-interpolation.png
$PY run.py plot runs/vae-20d --kind traversal -o docs/vae-traversal.png
