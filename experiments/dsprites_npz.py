"""Our rendered dSprites (ppl_vae/sprites.py) written in the layout of the official
dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz, for code that reads that file (the beta-TCVAE code's lib/datasets.py):
imgs (uint8, 737 280 x 64 x 64), latents_classes and latents_values (737 280 x 6: colour, shape, scale, orientation,
position x, position y; the constant colour 0, value 1; shape's values 1, 2, 3 as the official file's), in the
official order (the last factor varies fastest). Written uncompressed (np.savez): about 3 GB.

    python experiments/dsprites_npz.py OUT.npz
"""
import argparse

import numpy as np

from ppl_vae import sprites


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    args = parser.parse_args()
    grid = sprites.DSPRITES
    images, classes = sprites.render(grid)
    classes = np.concatenate([np.zeros((len(classes), 1), np.int64), classes], axis=1)  # the colour factor, first
    values = [np.array([1.0]), np.array(grid.values[0]) + 1.0, *map(np.asarray, grid.values[1:])]
    latent_values = np.stack([values[k][classes[:, k]] for k in range(classes.shape[1])], axis=1)
    np.savez(args.output, imgs=images.astype(np.uint8), latents_classes=classes, latents_values=latent_values)
    print(f"wrote {args.output}: {len(images)} images")


if __name__ == "__main__":
    main()
