"""Binary images of shapes rendered from known factors: dSprites (Matthey et al. 2017), drawn here since the official
file is download-only, and a small 32 x 32 set of the same shapes for tests and quick demonstrations.

Every combination of the factors appears once, in row-major order of the factors as listed (the last factor varies
fastest), as the official dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz orders its 737 280 images (its constant
colour factor left out). A shape is drawn by testing each pixel's centre against the shape's outline (no
anti-aliasing: the pixels are 0 or 1, as the official ones are); positions step by exactly one pixel, so each
(shape, scale, orientation) is drawn once and shifted.
"""
import math
from dataclasses import dataclass

import numpy as np

SHAPES = ("square", "ellipse", "heart")
# The sprite's size in pixels at scale 1, per image side. 64: chosen so that the mean pixel of the rendered dSprites
# is 0.0428, that of the official file (its pixel mean 0.043, sd 0.202, as reported for it). 32: near the largest that
# the border allows, so that each of the 4 scales draws each shape with a different number of pixels (at 6 pixels
# the two smallest squares were both 5 x 5).
SPRITE_RADIUS = {64: 12.3, 32: 8.0}


@dataclass(frozen=True)
class FactorGrid:
    """The factors of a dataset of sprites and their values; the images are all their combinations."""
    size: int  # image side in pixels
    scales: tuple
    orientations: tuple  # radians
    positions: int  # values of each of position_x, position_y, one pixel apart, centred in the image

    names = ("shape", "scale", "orientation", "position_x", "position_y")

    @property
    def values(self):
        """Each factor's values, in the order of `names`."""
        positions = tuple(np.linspace(0, 1, self.positions))
        return tuple(range(len(SHAPES))), self.scales, self.orientations, positions, positions

    @property
    def levels(self):
        return tuple(len(v) for v in self.values)

    def __len__(self):
        return math.prod(self.levels)


DSPRITES = FactorGrid(size=64, scales=tuple(np.linspace(0.5, 1, 6)), orientations=tuple(np.linspace(0, 2 * np.pi, 40)),
                      positions=32)
# 3 shapes x 4 scales x 16 x 16 positions, upright: 3072 images of 32 x 32
SMALL_SHAPES = FactorGrid(size=32, scales=tuple(np.linspace(0.5, 1, 4)), orientations=(0.0,), positions=16)


def inside(shape, u, v):
    """Whether the points (u, v) of the sprite's own frame (v up, unit size) lie inside the shape."""
    if shape == "square":
        return np.maximum(abs(u), abs(v)) <= 0.7
    if shape == "ellipse":
        return u ** 2 + (v / 0.5) ** 2 <= 1
    # the heart curve (x^2 + y^2 - 1)^3 = x^2 y^3, shrunk to span about the same width as the others
    x, y = u / 0.8, v / 0.8 + 0.1
    return (x ** 2 + y ** 2 - 1) ** 3 - x ** 2 * y ** 3 <= 0


def sprite(grid, shape, scale, orientation):
    """One sprite on a canvas of size + positions - 1 pixels a side, centred where position 0 puts it when the
    image is the canvas's top-left size x size window shifted by (positions - 1 - ix, positions - 1 - iy)."""
    side = grid.size + grid.positions - 1
    centre = grid.positions - 1 + (grid.size - grid.positions + 1) / 2  # pixel edges are integers, centres + 0.5
    rows, cols = np.mgrid[0:side, 0:side] + 0.5
    dx, dy = (cols - centre), -(rows - centre)  # y up
    radius = SPRITE_RADIUS[grid.size] * scale
    cos, sin = math.cos(orientation), math.sin(orientation)
    u, v = (cos * dx + sin * dy) / radius, (-sin * dx + cos * dy) / radius  # rotated by -orientation
    return inside(SHAPES[shape], u, v)


def render(grid, index=None):
    """The images (bool, N x size x size) and factor classes (int64, N x 5: indices into grid.values) of the images
    numbered `index` (all of them if None), in the grid's order."""
    index = np.arange(len(grid)) if index is None else np.asarray(index)
    classes = np.stack(np.unravel_index(index, grid.levels), axis=1)
    drawn = np.ravel_multi_index(tuple(classes[:, :3].T), grid.levels[:3])  # (shape, scale, orientation) of each
    needed, which = np.unique(drawn, return_inverse=True)
    canvases = np.stack([sprite(grid, s, grid.scales[c], grid.orientations[o])
                         for s, c, o in zip(*np.unravel_index(needed, grid.levels[:3]))])
    windows = np.lib.stride_tricks.sliding_window_view(canvases, (grid.size, grid.size), axis=(1, 2))
    last = grid.positions - 1
    # position_x moves the sprite right (columns), position_y down (rows)
    images = windows[which.reshape(-1), last - classes[:, 4], last - classes[:, 3]]
    return images, classes.astype(np.int64)
