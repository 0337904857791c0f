"""Issue 30: every combination of variant, guide, objective and scheme trains or is refused in one line, before
anything is written or launched; the page docs/compatibility.md is the walk of that matrix."""
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ppl_vae import distributed
from ppl_vae.cli import main
from ppl_vae.runs import matrix

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "compatibility.md"
TINY = ["--epochs", "1", "--subset", "200", "--batch-size", "100"]


@pytest.fixture(scope="module")
def cells():
    """The whole matrix through the validation: {variant: (pairs, schemes)}."""
    return {name: matrix.variant_cells(name) for name in matrix.VARIANTS}


def test_every_cell_trains_or_is_refused_in_one_line_that_names_its_flags(cells):
    for name, (pairs, schemes) in cells.items():
        for cell, verdict in [*pairs.items(), *schemes.items()]:
            assert verdict == matrix.TRAINS or verdict.startswith("--") and "\n" not in verdict, (name, cell, verdict)
            assert "Traceback" not in verdict and "Trace Shapes" not in verdict


def test_the_page_is_the_walk_of_the_matrix(cells):
    """docs/compatibility.md is what `ppl-vae list --matrix` prints: regenerate it with
    `python run.py list --matrix > docs/compatibility.md`."""
    assert PAGE.read_text() == matrix.page(cells) + "\n"


def test_each_variant_trains_with_its_own_guide_and_objective(cells):
    for name, (pairs, _) in cells.items():
        own = matrix.configure(name)
        assert pairs[own["guide"]["name"], own["train"]["elbo"]] == matrix.TRAINS, name


def sampled_cells(cells, count):
    """`count` cells of the matrix drawn at random (seeded) among the variants that read MNIST and whose verdict a
    subset of 200 images does not change (the semi-supervised scheme's default 3 000 labels need the whole set),
    half that train and half refused."""
    trains, refused = [], []
    for name, (pairs, _) in cells.items():
        own = matrix.configure(name)
        if own["data"]["dataset"] != "mnist" or own["scheme"]["name"] == "semi-supervised":
            continue
        for (guide, objective), verdict in pairs.items():
            (trains if verdict == matrix.TRAINS else refused).append((name, guide, objective, verdict))
    rng = random.Random(30)
    return rng.sample(trains, count // 2) + rng.sample(refused, count // 2)


def test_sampled_cells_train_one_epoch_or_exit_2_with_their_line_and_write_nothing(cells, tmp_path, capsys):
    for name, guide, objective, verdict in sampled_cells(cells, 8):
        runs_dir = tmp_path / f"{name}-{guide}-{objective}"
        code = main(["train", "--model", name, "--guide", guide, "--elbo", objective, *TINY, "--runs-dir",
                     str(runs_dir), "--name", "cell"])
        err = capsys.readouterr().err
        if verdict == matrix.TRAINS:
            assert code == 0 and (runs_dir / "cell" / "checkpoint.pt").exists(), (name, guide, objective, err)
        else:
            assert code == 2 and err == f"run.py train: error: {verdict}\n", (name, guide, objective, err)
            assert not runs_dir.exists()


def test_a_pair_that_cannot_share_its_steps_is_refused_before_lightning_starts(tmp_path, capsys, monkeypatch):
    def launch(*args, **kwargs):
        raise AssertionError("Lightning was launched")

    monkeypatch.setattr(distributed, "launch", launch)
    assert main(["train", "--model", "m2", "--devices", "2", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("run.py train: error: --devices 2: the training of --model m2 cannot be shared")
    assert err.count("\n") == 1 and not any(tmp_path.iterdir())


USER_PAIR = '''
import torch
from ppl_vae.pairs import Variant
from ppl_vae.models.vae import VAEConfig


def build(options, data):
    return broken_decoder()


def broken_decoder():
    raise RuntimeError("my bug")


PAIR = Variant(build, config=VAEConfig, guide="gaussian")
'''


def test_a_users_code_that_raises_keeps_its_traceback_under_one_line_naming_where(tmp_path, capsys):
    pair_file = tmp_path / "my_pair.py"
    pair_file.write_text(USER_PAIR)
    runs_dir = tmp_path / "runs"
    assert main(["train", "--model", f"{pair_file}:PAIR", "--runs-dir", str(runs_dir)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"run.py train: error in {pair_file.resolve()}, in broken_decoder (line 12): RuntimeError: "
                      "my bug")
    assert err[1] == "Traceback (most recent call last):" and err[-1] == "RuntimeError: my bug"
    assert not runs_dir.exists()


def test_the_installed_command_calls_itself_by_its_name(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["/somewhere/bin/ppl-vae", "train", "--model", "gan"])
    assert main() == 2
    assert capsys.readouterr().err.startswith("ppl-vae train: error: unknown --model 'gan'")


def test_a_reader_that_closes_the_pipe_early_gets_silence():
    """`ppl-vae list | head -1`: the command stops quietly when its reader has gone."""
    listing = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "list"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    listing.stdout.close()  # before the command has written anything
    _, err = listing.communicate()
    assert err == b"" and listing.returncode == 141


@pytest.mark.parametrize("written, message", [
    ('{"variant": "nope", "seed": 0, "model": {}, "data": {}, "train": {}}', "unknown --model 'nope'"),
    ('[1, 2]', "not a run's configuration: it has no 'variant', 'seed', 'model', 'data', 'train'"),
])
def test_a_config_that_names_no_known_variant_is_refused_in_one_line(tmp_path, capsys, written, message):
    config = tmp_path / "config.json"
    config.write_text(written)
    assert main(["train", "--config", str(config), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("flag", ["--latent", "--num-particles"])
def test_a_size_too_large_for_memory_is_refused_in_one_line(tmp_path, capsys, flag):
    assert main(["train", flag, str(10 ** 12), "--subset", "200", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "do not fit in memory" in err and err.count("\n") == 1 and not any(tmp_path.iterdir())
