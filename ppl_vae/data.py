"""Datasets as tensors on the device, batched by shuffled index, binarized as the likelihood papers do. The images
come from the sources of ppl_vae/sources.py (DataConfig.dataset); those with known factors (Dataset.factors) are split
at random (seed 0) into train, validation and test.
"""
import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ppl_vae.options import Options, option
from ppl_vae.sources import DataError, FACTOR_GRIDS, is_official_dsprites, read_arrays, read_factor_images

FACTOR_IMAGES = 10_000  # training images on which a code is scored against known factors
VALID_SIZE = 10_000  # held out from the end of the training images when a source has no validation split
BINARIZATIONS = ("dynamic", "static", "none")


@dataclass
class DataConfig(Options):
    dataset: str = option("mnist", "mnist | PATH.npz | IDX_FOLDER | torchvision:NAME; images with known factors: "
                          "dsprites (rendered) | shapes (small) | the official dSprites .npz; sentences: ptb (the Penn "
                          "Treebank) | CORPUS_FOLDER of train.txt, valid.txt, test.txt")
    # Validation and test images are drawn once, seeded, unless none, so evaluations are comparable.
    binarize: str = option("dynamic", "pixels to 0/1: dynamic, a fresh Bernoulli draw from the intensities for each "
                           "training batch (the likelihood papers'); static, one seeded draw of every split; none, "
                           "the intensities themselves", choices=BINARIZATIONS)
    train_on_valid: bool = option(False, "train on train + validation images (60k for MNIST), as the likelihood "
                                  "papers do")
    subset: int = option(0, "keep only the first N images of each split (0: all)", minimum=0)
    download: bool = option(False, "let torchvision download its dataset (online only)")
    root: str = option("data", "folder for torchvision's files", flag="--data-root")
    max_vocab: int = option(0, "sentences: the vocabulary's most frequent training words, the rest read as <unk> "
                            "(0: every training word)", minimum=0)
    max_length: int = option(0, "sentences: training sentences longer than this many words are dropped (0: none)",
                             minimum=0)
    # M1+M2 (Kingma et al. 2014, sec. 3.1.3): M2 on the codes of M1, a trained VAE
    codes_of: str = option("", "train on the codes of this trained run instead of the images: the means of its "
                           "guide's q(z | x) (M1+M2: M2 on the codes of a trained VAE)", metavar="RUN_DIR")
    active_units: float = option(0.0, "with --codes-of: keep only the units whose means vary over the training images "
                                 "with a standard deviation above this (Kingma et al.'s code: 0.1); 0 keeps every unit",
                                 minimum=0)
    sampled_codes: bool = option(False, "with --codes-of: each training batch sees a fresh draw z ~ q(z | x) of its "
                                 "images (Kingma et al.'s code), not the means; validation and test see the means")


def factor_splits(dataset):
    """A dataset with known factors split at random (seed 0, the same for every run): 10 000 test and 10 000
    validation images (a sixth each of a dataset under 40 000), the rest to train. -> (split -> (flat bool images,
    labels: -1, factor classes)), image shape, factor names."""
    images, factors, names = read_factor_images(dataset)
    n = len(images)
    held_out = VALID_SIZE if n > 4 * VALID_SIZE else n // 6
    order = np.random.default_rng(0).permutation(n)
    parts = {"train": order[2 * held_out:], "valid": order[held_out : 2 * held_out], "test": order[:held_out]}
    flat = images.reshape(n, -1)
    splits = {name: (flat[np.sort(part)], np.full(len(part), -1), factors[np.sort(part)])
              for name, part in parts.items()}
    return splits, tuple(images.shape[1:]), names


def intensities(images):
    """Images as the programs read them: bool images (a large binary dataset, kept 1 byte a pixel) as floats."""
    return images.to(torch.get_default_dtype()) if images.dtype == torch.bool else images


def as_images(images, labels, where):
    """(N, ...) uint8 in 0..255 or float in [0, 1] -> float32 (N, D) in [0, 1], with int64 labels (-1 if none)."""
    images = np.asarray(images)
    if images.ndim < 2 or images.size == 0:
        raise DataError(f"{where}: images have shape {images.shape}; expected (N, H, W) or (N, D), with N and the "
                        "image's size above 0")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    elif np.issubdtype(images.dtype, np.floating):
        if not np.isfinite(images).all():
            raise DataError(f"{where}: float images hold NaN or infinite values")
        if images.min() < 0 or images.max() > 1:
            raise DataError(f"{where}: float images must lie in [0, 1], found [{images.min()}, {images.max()}]")
        images = images.astype(np.float32)
    else:
        raise DataError(f"{where}: images have dtype {images.dtype}; expected uint8 or float in [0, 1]")
    if labels is None:
        labels = np.full(len(images), -1)
    else:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise DataError(f"{where}: {len(images)} images but labels of shape {labels.shape}")
        if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.bool_)):
            raise DataError(f"{where}: labels of dtype {labels.dtype}; expected integers 0, 1, ..., C - 1")
        if labels.size and labels.min() < 0:
            raise DataError(f"{where}: labels must be 0, 1, ..., C - 1; found {labels.min()}")
        labels = labels.astype(np.int64)
    return images.reshape(len(images), -1), labels


def image_shape(images, where):
    """(H, W) of an array of images, flat 784 read as 28 x 28."""
    if images.ndim >= 3:
        return tuple(images.shape[-2:])
    side = int(round(images.shape[1] ** 0.5))
    if side * side != images.shape[1]:
        raise DataError(f"{where}: images of {images.shape[1]} values are not square; store them as (N, H, W)")
    return side, side


class Dataset:
    """The splits as tensors on one device, and the batches the trainer draws from them."""

    item = "image"  # what a data point is, for messages

    def __init__(self, cfg: DataConfig, device="cpu", seed=0):
        """seed: of the one-off binarization draws (static, and the evaluation splits when dynamic)."""
        where = cfg.dataset
        if cfg.dataset in FACTOR_GRIDS or is_official_dsprites(cfg.dataset):
            splits, self.image_shape, self.factor_names = factor_splits(cfg.dataset)
            binarize = "none"  # the pixels are 0 or 1 already
        else:
            arrays = read_arrays(cfg)
            splits = {name: (*as_images(*xy, f"{where} ({name})"), np.zeros((len(xy[0]), 0), np.int64))
                      for name, xy in arrays.items()}
            self.image_shape = image_shape(np.asarray(arrays["train"][0]), f"{where} (the training images)")
            self.factor_names = ()
            binarize = cfg.binarize
        if "valid" not in splits:  # hold out the end of the training images
            x = splits["train"][0]
            n_valid = VALID_SIZE if len(x) > 2 * VALID_SIZE else max(1, len(x) // 6)
            if len(x) <= n_valid:
                raise DataError(f"{where}: {len(x)} training image(s), too few to hold out validation images; "
                                "give a validation split (x_valid, y_valid)")
            kept = len(x) - n_valid
            train = splits["train"]
            splits["train"], splits["valid"] = tuple(a[:kept] for a in train), tuple(a[kept:] for a in train)
        if cfg.train_on_valid:
            splits["train"] = tuple(np.concatenate(parts) for parts in zip(splits["train"], splits["valid"]))
        sizes = {x.shape[1] for x, _, _ in splits.values()}
        if len(sizes) != 1:
            raise DataError(f"{where}: splits disagree on the image size: {sizes}")
        classes = splits["train"][1].max(initial=-1) + 1  # the classes are those of the training labels, if any
        for name, (_, y, _) in splits.items():
            if classes and y.size and y.max() >= classes:
                raise DataError(f"{where} ({name}): label {y.max()}, but the training labels are 0 to {classes - 1}")
        self.binarize = binarize
        generator = torch.Generator().manual_seed(seed)
        self.images, self.labels, self.factors = {}, {}, {}
        for name, (x, y, factors) in splits.items():
            if cfg.subset > 0:
                x, y, factors = x[: cfg.subset], y[: cfg.subset], factors[: cfg.subset]
            x = torch.from_numpy(x)
            if binarize == "static" or (binarize == "dynamic" and name != "train"):
                x = torch.bernoulli(x, generator=generator)
            if name != "train":  # binary training images stay bool, 1 byte a pixel, and each batch is converted
                x = intensities(x)
            self.images[name] = x.to(device)
            self.labels[name] = torch.from_numpy(y).to(device)
            self.factors[name] = torch.from_numpy(factors).to(device)
        self.dim = sizes.pop()
        self.code_sds = None  # the standard deviations of codes drawn afresh for each batch (encoded)

    def batches(self, split, batch_size, shuffle=True, labels=False, indices=None, fresh=True):
        """Batches from one split by (shuffled) index, each a tuple of the program's arguments: (images,), or
        (images, one-hot labels) with labels=True; training images binarized afresh if dynamic, and sampled codes
        drawn afresh (fresh=False: the stored intensities as they are). `indices`: only these images of the
        split."""
        images = self.images[split]
        if indices is None:
            indices = torch.arange(len(images), device=images.device)
        if shuffle:
            indices = indices[torch.randperm(len(indices), device=images.device)]
        fresh = fresh and split == "train"
        for start in range(0, len(indices), batch_size):
            index = indices[start : start + batch_size]
            x = intensities(images[index])
            if fresh and self.binarize == "dynamic":
                x = torch.bernoulli(x)
            elif fresh and self.code_sds is not None:
                x = torch.normal(x, self.code_sds[index])  # a fresh code z ~ q(z | x)
            yield (x, self.one_hot(self.labels[split][index])) if labels else (x,)

    def factor_sample(self, size=FACTOR_IMAGES):
        """Indices of `size` training images (all, if fewer) drawn at random, the same for every run: the images on
        which a code is scored against the known factors (as disentanglement_lib samples its 10 000 points)."""
        count = len(self.images["train"])
        order = torch.randperm(count, generator=torch.Generator().manual_seed(0))[:size]
        return order.sort().values.to(self.images["train"].device)

    def encoded(self, encode, active=0.0, sampled=False):
        """This dataset with every split's images replaced by their codes (--codes-of; M1+M2's): encode(images) gives
        the means and standard deviations of q(z | x), (N, D') each; codes are never binarized. active > 0 keeps only
        the units whose means vary over the training images with a standard deviation above it (Kingma et al.'s code:
        0.1); the rest are the prior's and say nothing of the image. sampled: every training batch draws its codes
        afresh from q(z | x), as their code does (and as dynamic binarization draws pixels); the other splits are the
        means."""
        codes = copy.copy(self)
        moments = {split: encode(images) for split, images in self.images.items()}
        spread = moments["train"][0].std(dim=0)
        keep = spread > active if active else torch.ones_like(spread, dtype=torch.bool)
        if not keep.any():
            raise DataError(f"no unit of the codes varies with a standard deviation above {active}")
        codes.images = {split: means[:, keep] for split, (means, _) in moments.items()}
        codes.code_sds = moments["train"][1][:, keep] if sampled else None
        codes.binarize = "none"
        codes.dim = int(keep.sum())
        codes.image_shape = (codes.dim,)
        return codes

    def tokens(self, x):
        """The tokens of data points x, for a per-token measure: none for images."""
        return None

    def one_hot(self, labels):
        return F.one_hot(labels.long(), self.num_classes).to(torch.get_default_dtype())

    @property
    def num_classes(self):
        return int(self.labels["train"].max()) + 1

    def balanced_subset(self, n, seed):
        """Indices of n training images, n / classes of each class, drawn at random with this seed (the labelled
        set of semi-supervised learning)."""
        labels = self.labels["train"].cpu()
        if not self.num_classes:
            raise DataError("labelled images: this dataset has no labels")
        if n % self.num_classes or n <= 0:
            raise DataError(f"labelled images: {n} is not a positive multiple of the {self.num_classes} classes")
        generator = torch.Generator().manual_seed(seed)
        chosen = []
        for label in range(self.num_classes):
            members = (labels == label).nonzero().flatten()
            if len(members) < n // self.num_classes:
                raise DataError(f"labelled images: {n} asks for {n // self.num_classes} of class {label}, which has "
                                f"{len(members)} training images")
            chosen.append(members[torch.randperm(len(members), generator=generator)[: n // self.num_classes]])
        return torch.cat(chosen).sort().values.to(self.labels["train"].device)
