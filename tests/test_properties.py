"""Property-based tests (hypothesis) of the flag parsing and the data readers on generated bad input: whatever comes
in, the answer is the thing asked for or one line saying what is wrong; never a traceback."""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ppl_vae import options
from ppl_vae.cli import build_parser, train_config
from ppl_vae.data import DataConfig, Dataset, DataError
from ppl_vae.distributed import ProcessesConfig
from ppl_vae.runs import configuration
from ppl_vae.runs.life import DeviceConfig
from ppl_vae.text import TextDataset

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def numeric_flags():
    """(flag, the flags that select a program or scheme that has it) of every int or float option of `train`."""
    flags = {}
    for cls in [*configuration.config_classes(), DeviceConfig, ProcessesConfig]:
        for names, _, _, hint in options.fields(cls):
            if options.scalar_type(hint) in (int, float):
                owner = configuration.owners(cls)
                flags.setdefault(options.primary(names), owner[0].split() if owner else [])
    return sorted(flags.items())


NUMERIC_FLAGS = numeric_flags()
BAD_NUMBERS = st.one_of(st.sampled_from(["nan", "inf", "-inf", "-1", "0", "-0.0", "1e308", "1e999",
                                         str(10 ** 30), str(-10 ** 30), "0x10", "1_000", " 3", "", "two"]),
                        st.integers(-10 ** 40, 10 ** 40).map(str),
                        st.floats(allow_nan=True, allow_infinity=True).map(repr))


def test_the_flags_under_test_are_all_the_numeric_ones():
    names = [flag for flag, _ in NUMERIC_FLAGS]
    assert {"--lr", "--epochs", "--latent", "--beta", "--subset", "--num-particles", "--alpha", "--labelled",
            "--temperature"} <= set(names)


@PROPERTY
@given(cell=st.sampled_from(NUMERIC_FLAGS), value=BAD_NUMBERS)
def test_a_numeric_flag_is_taken_or_refused_in_one_line(cell, value, capsys):
    flag, owner = cell
    argv = ["train", *owner, f"{flag}={value}"]
    try:
        args = build_parser(argv).parse_args(argv)
        config = train_config(args)
    except SystemExit as exit:  # argparse's refusal
        err = capsys.readouterr().err
        assert exit.code == 2 and err.count("\n") == 1 and flag in err, err
        return
    except ValueError as refusal:
        assert "\n" not in str(refusal) and flag in str(refusal)
        return
    for dest, taken in vars(args).items():
        if "." in dest and dest.split(".")[0] in configuration.SECTIONS:
            assert config[dest.split(".")[0]][dest.split(".")[1]] == taken
        for item in taken if isinstance(taken, list) else [taken] if "." in dest else []:
            assert isinstance(item, (int, float)) and math.isfinite(item), (flag, value, item)


def load(dataset):
    """The dataset, or the DataError (one line) it is refused with."""
    try:
        return Dataset(DataConfig(dataset=str(dataset)))
    except DataError as refusal:
        assert "\n" not in str(refusal)
        return refusal


@PROPERTY
@given(data=st.binary(max_size=600))
def test_random_bytes_saved_as_npz_are_refused_in_one_line(tmp_path, data):
    path = tmp_path / "x.npz"
    path.write_bytes(data)
    assert isinstance(load(path), DataError)


ARRAY_NAMES = ["x_train", "y_train", "x_valid", "y_valid", "x_test", "y_test", "images"]
ARRAYS = hnp.arrays(st.sampled_from([np.uint8, np.float32, np.float64, np.int64, np.bool_]),
                    hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9))


@PROPERTY
@given(arrays=st.dictionaries(st.sampled_from(ARRAY_NAMES), ARRAYS, max_size=6))
def test_an_npz_of_any_arrays_loads_as_consistent_images_or_is_refused_in_one_line(tmp_path, arrays):
    path = tmp_path / "x.npz"
    np.savez(path, **arrays)
    data = load(path)
    if isinstance(data, DataError):
        return
    for split, images in data.images.items():
        x = images.float()
        assert x.dim() == 2 and x.shape[1] == data.dim and bool(((x >= 0) & (x <= 1)).all())
        labels = data.labels[split]
        assert len(labels) == len(images)
        assert bool((labels >= -1).all()) and (data.num_classes == 0 or bool((labels < data.num_classes).all()))


@PROPERTY
@given(labels=hnp.arrays(np.int64, st.integers(0, 14), elements=st.integers(-5, 20)))
def test_labels_out_of_range_or_of_another_length_are_refused_in_one_line(tmp_path, labels):
    images = np.zeros((12, 16), np.uint8)
    path = tmp_path / "x.npz"
    np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=np.zeros(12, int))
    data = load(path)
    if len(labels) != 12 or labels.min(initial=0) < 0:
        assert isinstance(data, DataError)
    elif not isinstance(data, DataError):
        assert bool((data.labels["test"] < data.num_classes).all())


CORPUS_TEXT = st.one_of(st.just(""), st.just("word"), st.just("\n\n"), st.text(max_size=80),
                        st.binary(max_size=80).map(lambda b: b.decode("latin-1")))


@PROPERTY
@given(texts=st.tuples(CORPUS_TEXT, CORPUS_TEXT, CORPUS_TEXT), raw=st.binary(max_size=40),
       raw_split=st.sampled_from([None, "train", "valid", "test"]))
def test_a_corpus_of_any_text_loads_or_is_refused_in_one_line(tmp_path, texts, raw, raw_split):
    """Empty files, one word, stray bytes that are not UTF-8."""
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    for split, text in zip(("train", "valid", "test"), texts):
        (folder / f"{split}.txt").write_bytes(raw if split == raw_split else text.encode("utf-8", "surrogatepass"))
    try:
        data = TextDataset(DataConfig(dataset=str(folder)))
    except DataError as refusal:
        assert "\n" not in str(refusal)
        return
    assert all(len(sentences) > 0 for sentences in data.images.values())
    assert data.image_shape[1] == len(data.vocabulary)
