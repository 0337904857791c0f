"""The rendered datasets of known factors: deterministic, in the official order, each combination once, and loaded
(rendered or from the official dSprites file) as bool training images converted per batch."""
import hashlib

import numpy as np
import pytest
import torch

from ppl_vae import sprites
from ppl_vae.data import DataConfig, DataError, Dataset


def digest(images):
    return hashlib.sha256(np.packbits(images).tobytes()).hexdigest()


def test_dsprites_is_rendered_the_same_every_time_in_the_official_order():
    images, classes = sprites.render(sprites.DSPRITES)
    assert images.shape == (737_280, 64, 64) and images.dtype == bool
    assert digest(images) == "466901940c539b030944d03ff2d44c3d01686709f3892bc752ff7320897ca031"
    # row-major over (shape, scale, orientation, position_x, position_y): the last varies fastest
    assert classes[1].tolist() == [0, 0, 0, 0, 1] and classes[32].tolist() == [0, 0, 0, 1, 0]
    assert classes[-1].tolist() == [2, 5, 39, 31, 31]
    # the official file's pixel mean is 0.043 (sd 0.202): the sprites' size at scale 1 was chosen to match it
    assert abs(images.mean() - 0.043) < 0.001


def test_every_combination_once_and_a_sprite_is_whole_at_every_position():
    grid = sprites.SMALL_SHAPES
    images, classes = sprites.render(grid)
    assert len(images) == 3 * 4 * 16 * 16 and digest(images) == (
        "d87f0fd597d119592d1541c0c9df5ce7f54613dcc750cbf18026ca275fc88ffa")
    assert len({tuple(c) for c in classes}) == len(images)
    areas = images.reshape(len(grid.scales) * len(sprites.SHAPES), -1, 32 * 32).sum(2)  # per (shape, scale)
    assert (areas == areas[:, :1]).all() and (areas > 0).all()  # shifted, never cut by the border
    # larger scales draw larger sprites
    assert (np.diff(areas[:, 0].reshape(3, 4), axis=1) > 0).all()
    # moving position_x by one moves the sprite one pixel right; position_y, one pixel down
    assert (np.roll(images[0], 1, axis=1) == images[16]).all()
    assert (np.roll(images[0], 1, axis=0) == images[1]).all()


def test_images_rendered_by_index_are_those_of_the_whole_grid():
    everything, all_classes = sprites.render(sprites.SMALL_SHAPES)
    index = [3071, 5, 1000, 5]
    images, classes = sprites.render(sprites.SMALL_SHAPES, index)
    assert (images == everything[index]).all() and (classes == all_classes[index]).all()


def test_the_small_dataset_is_split_at_random_once_with_its_factors():
    data = Dataset(DataConfig(dataset="shapes"))
    assert data.factor_names == ("shape", "scale", "position_x", "position_y")  # the constant orientation left out
    assert {split: len(x) for split, x in data.images.items()} == {"train": 2048, "valid": 512, "test": 512}
    assert data.images["train"].dtype == torch.bool and data.images["test"].dtype == torch.float32
    (x,) = next(data.batches("train", 10))
    assert x.dtype == torch.float32 and set(x.unique().tolist()) <= {0.0, 1.0}
    seen = torch.cat([data.factors[s] for s in ("train", "valid", "test")])
    assert len(seen.unique(dim=0)) == 3072  # every image in exactly one split
    # all the shapes in each split: the split is at random, not the end of the ordered grid
    assert all(len(data.factors[s][:, 0].unique()) == 3 for s in data.factors)
    again = Dataset(DataConfig(dataset="shapes"))
    assert torch.equal(again.factors["test"], data.factors["test"])


def test_the_official_dsprites_file_is_read_with_its_factor_names(tmp_path):
    images, classes = sprites.render(sprites.DSPRITES, np.arange(0, 737_280, 24))
    path = tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    colour = np.zeros((len(classes), 1), np.int64)  # the official file's first column: one colour
    np.savez(path, imgs=images.astype(np.uint8), latents_classes=np.hstack([colour, classes]),
             latents_values=np.hstack([colour, classes]).astype(float))
    data = Dataset(DataConfig(dataset=str(path)))
    assert data.factor_names == sprites.FactorGrid.names
    assert len(data.images["test"]) == len(images) // 6
    test = data.factors["test"]
    index = np.ravel_multi_index(tuple(test.numpy().T), sprites.DSPRITES.levels)
    rendered, _ = sprites.render(sprites.DSPRITES, index)
    assert torch.equal(data.images["test"], torch.from_numpy(rendered.reshape(len(index), -1)).float())

    np.savez(path, imgs=images[:, :10].astype(np.uint8), latents_classes=classes)  # no colour column
    with pytest.raises(DataError, match="not dSprites'"):
        Dataset(DataConfig(dataset=str(path)))
