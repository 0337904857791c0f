"""The command line on a tiny MNIST subset: the run folder, resume, re-run from config.json, and bad input."""
import json
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from ppl_vae import rundir
from ppl_vae.runs import life
from ppl_vae.cli import main
from ppl_vae.runs import configure

TINY = ["--subset", "300", "--batch-size", "50", "--hidden", "32", "--latent", "4"]
RUN_FILES = {"config.json", "metrics.jsonl", "checkpoint.pt", "samples.png", "reconstructions.png", "curves.png"}


def train(tmp_path, name, *flags):
    assert main(["train", *TINY, "--runs-dir", str(tmp_path), "--name", name, *flags]) == 0
    return tmp_path / name


def numbers(run_dir):
    """Metrics without the wall-clock seconds, and the trained weights."""
    metrics = [{k: v for k, v in m.items() if k != "seconds"} for m in rundir.read_metrics(run_dir)]
    return metrics, rundir.load_checkpoint(run_dir)["model"]


def assert_same_numbers(a, b):
    (metrics_a, weights_a), (metrics_b, weights_b) = numbers(a), numbers(b)
    assert metrics_a == metrics_b
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_train_writes_the_run_folder_and_evaluate_and_sample_read_it(tmp_path, capsys):
    run_dir = train(tmp_path, "tiny", "--epochs", "2")
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    assert [m["epoch"] for m in rundir.read_metrics(run_dir)] == [1, 2]
    assert main(["evaluate", str(run_dir), "--iw-samples", "0"]) == 0
    results = json.loads((run_dir / "evaluation-k0.json").read_text())
    assert -543.0 < results["test_elbo"] < 0  # a bound on log p(x) of 784 binary pixels, better than coin flips
    assert f"test  log p(x | z) {results['test_recon']:9.3f}   ELBO {results['test_elbo']:9.3f}" in capsys.readouterr().out
    assert main(["sample", str(run_dir), "-n", "16", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_iwae_training_and_the_importance_weighted_evaluation(tmp_path, capsys):
    run_dir = train(tmp_path, "iwae", "--epochs", "2", "--elbo", "iwae", "--num-particles", "5")
    metrics = rundir.read_metrics(run_dir)
    assert metrics[-1]["train_elbo"] > metrics[0]["train_elbo"]
    assert main(["evaluate", str(run_dir), "--iw-samples", "50", "--chunk-size", "7"]) == 0
    results = json.loads((run_dir / "evaluation-k50.json").read_text())
    log_px = np.load(run_dir / "test_log_likelihood-k50.npy")
    assert log_px.shape == (300,) and results["iw_samples"] == 50
    assert results["test_nll"] == pytest.approx(-log_px.mean())
    assert results["test_nll_se"] == pytest.approx(log_px.std(ddof=1) / 300**0.5)
    # IWAE_50 is a tighter bound than the ELBO: here by several nats, far more than the ELBO estimate's noise
    assert results["test_nll"] < -results["test_elbo"] - 1
    assert f"test  NLL  {results['test_nll']:9.3f} ± {results['test_nll_se']:.3f}" in capsys.readouterr().out


def test_a_loss_that_turns_nan_stops_training_with_an_error(tmp_path, capsys):
    """With a learning rate of 1e30 the first step sends the parameters to infinity and the second step's loss is
    NaN or infinite: training stops there with an error, before an update spreads it to the parameters or an epoch is
    logged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pyro's, as it computes a NaN loss
        assert main(["train", *TINY, "--lr", "1e30", "--runs-dir", str(tmp_path), "--name", "run"]) == 1
    assert re.search("the loss is (nan|inf) at step 2 of the epoch; stopped: no epoch had finished",
                     capsys.readouterr().err)
    assert rundir.read_metrics(tmp_path / "run") == [] and not (tmp_path / "run" / rundir.CHECKPOINT).exists()


def test_resume_gives_the_same_numbers_as_a_straight_run(tmp_path):
    # 6 steps an epoch: the KL weight's warm-up runs across the interruption; Adam's beta_1 is the run's, resumed too
    flags = ["--kl-anneal", "9", "--kl-schedule", "sigmoid", "--kl-steepness", "12.5", "--adam-beta1", "0.5"]
    straight = train(tmp_path, "straight", "--epochs", "2", *flags)
    interrupted = train(tmp_path, "interrupted", "--epochs", "1", *flags)
    assert main(["train", "--resume", str(interrupted), "--epochs", "2"]) == 0
    assert_same_numbers(straight, interrupted)
    assert list(rundir.load_checkpoint(interrupted)["optimizer"]["param_groups"][0]["betas"]) == [0.5, 0.999]


def test_config_json_reruns_the_same_run(tmp_path):
    first = train(tmp_path, "first", "--epochs", "1", "--seed", "3", "--elbo", "trace", "--beta", "2",
                  "--num-particles", "3")
    assert main(["train", "--config", str(first / "config.json"), "--runs-dir", str(tmp_path), "--name", "again"]) == 0
    assert_same_numbers(first, tmp_path / "again")


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "must be an integer >= 1"),
    (["--binarize", "otsu"], "invalid choice: 'otsu'"),
    # numbers are checked when the command line is read, before anything is written (issue 20)
    (["--lr", "nan"], "argument --lr: must be a finite number, got nan"),
    (["--lr", "-1"], "argument --lr: must be > 0, got -1"),
    (["--lr", "0"], "argument --lr: must be > 0, got 0"),
    (["--beta", "nan"], "argument --beta: must be a finite number, got nan"),
    (["--beta", "-0.5"], "argument --beta: must be >= 0, got -0.5"),
    (["--alpha", "inf"], "argument --alpha: must be a finite number, got inf"),
    (["--temperature", "0"], "argument --temperature: must be > 0, got 0"),
    (["--word-dropout", "-0.1"], "argument --word-dropout: must be >= 0, got -0.1"),
    (["--word-dropout", "1.5"], "argument --word-dropout: must be <= 1, got 1.5"),
    (["--lr", "fast"], "argument --lr: must be a number, got fast"),
])
def test_bad_arguments_exit_nonzero_with_a_message(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit:
        main(["train", "--runs-dir", str(tmp_path), *flags])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.endswith("(see run.py train --help)\n")
    assert not any(tmp_path.iterdir())


def test_a_negative_number_of_importance_samples_is_refused(tmp_path, capsys):
    run_dir = train(tmp_path, "run", "--epochs", "1")
    before = {p.name for p in run_dir.iterdir()}
    with pytest.raises(SystemExit) as exit:
        main(["evaluate", str(run_dir), "--iw-samples", "-1"])
    assert exit.value.code == 2
    assert "must be an integer >= 0" in capsys.readouterr().err
    assert {p.name for p in run_dir.iterdir()} == before


def test_a_damaged_json_file_is_named(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"train": ')
    assert main(["train", "--config", str(broken), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: not valid JSON" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "missing.npz"], "missing.npz: no such file"),
    (["--model", "gan"], "unknown --model 'gan'"),
    (["--elbo", "trace", "--resume", "runs/x"], "only --epochs, --device, --devices, --num-nodes, --strategy may be"),
    (["--resume", "no/such/run"], "no/such/run/config.json"),
    (["--code-range", "1"], "--code-range: not an option of --guide gaussian (its options: --corrupt); --code-range is of --guide delta"),
    (["--model", "ae", "--corrupt", "blur:1"], "--corrupt 'blur:1': expected mask:P"),
    (["--model", "ae", "--corrupt", "mask:1"], "--corrupt 'mask:1': expected mask:P with 0 <= P < 1"),
    (["--tc-weight", "6"], "--tc-weight 6: an option of --elbo tcvae; this run's ELBO is meanfield (add --elbo tcvae)"),
    (["--kl-steepness", "5"], "--kl-steepness 5: shapes the sigmoid warm-up only; this run's is linear (add --kl-schedule"),
    (["--guide", "factor-vae", "--discriminator-betas", "0.5"], "--discriminator-betas takes two numbers in [0, 1)"),
    (["--net", "conv", "--encoder-activation", "relu"], "--decoder-hidden and --encoder-activation shape the MLPs; "
     "--net conv has none"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, flags, message):
    assert main(["train", "--runs-dir", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize("case, message", [
    ("not-square", "x.npz (the training images): images of 5 values are not square"),
    ("negative-labels", "x.npz (train): labels must be 0, 1, ..., C - 1; found -3"),
    ("unknown-config-key", "lr_decay: not an option of training"),
    ("runs-dir-is-a-file", "runs: not a folder, so"),
    ("labels-of-another-length", "x.npz (train): 12 images but labels of shape (11,)"),
    ("labels-that-are-not-integers", "x.npz (train): labels of dtype float64"),
    ("random-bytes", "x.npz: not an .npz archive"),
])
def test_more_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, case, message):
    """Issue 20's cases: each stops with one line naming the culprit, before a run folder exists."""
    images = np.zeros((12, 16), np.uint8)
    runs_dir, flags = tmp_path / "runs", []
    if case == "not-square":
        flags = ["--dataset", write_npz(tmp_path / "x.npz", x_train=np.zeros((10, 5), np.uint8), x_test=images)]
    elif case == "negative-labels":
        flags = ["--model", "cvae", "--dataset", write_npz(tmp_path / "x.npz", x_train=images, x_test=images,
                                                           y_train=np.array([0, 1, -3] * 4), y_test=np.zeros(12, int))]
    elif case in ("labels-of-another-length", "labels-that-are-not-integers"):
        labels = np.arange(11) % 3 if case == "labels-of-another-length" else np.full(12, 1.5)
        flags = ["--model", "cvae", "--dataset", write_npz(tmp_path / "x.npz", x_train=images, x_test=images,
                                                           y_train=labels, y_test=np.zeros(12, int))]
    elif case == "random-bytes":
        (tmp_path / "x.npz").write_bytes(np.random.default_rng(0).bytes(256))
        flags = ["--dataset", str(tmp_path / "x.npz")]
    elif case == "unknown-config-key":
        config = tmp_path / "config.json"
        written = configure("vae")
        written["train"]["lr_decay"] = 0.5
        config.write_text(json.dumps(written))
        flags = ["--config", str(config)]
    elif case == "runs-dir-is-a-file":
        runs_dir.write_text("")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["train", "--runs-dir", str(runs_dir), *TINY[:2], *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_existing_run_is_not_overwritten_by_accident(tmp_path, capsys):
    run_dir = train(tmp_path, "kept", "--epochs", "1")
    before = (run_dir / "metrics.jsonl").read_text()
    assert main(["train", *TINY, "--runs-dir", str(tmp_path), "--name", "kept"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (run_dir / "metrics.jsonl").read_text() == before


def test_a_convolutional_denoising_vae_trains_and_is_evaluated(tmp_path):
    run_dir = train(tmp_path, "conv", "--epochs", "1", "--net", "conv", "--channels", "4", "8", "--corrupt", "gauss:0.3")
    assert main(["evaluate", str(run_dir), "--iw-samples", "20"]) == 0
    results = json.loads((run_dir / "evaluation-k20.json").read_text())
    assert results["test_nll"] < -results["test_elbo"]


class RunsCode:
    """A pickled object whose unpickling would run code: it would leave a file behind."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def damage_by_truncation(run_dir):
    path = run_dir / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:1000])


def damage_by_another_variant(run_dir):
    config = rundir.read_json(run_dir / "config.json")
    config["variant"], config["guide"] = "ae", {"name": "delta", "corrupt": None, "code_range": None}
    (run_dir / "config.json").write_text(json.dumps(config))


def damage_the_config(run_dir):
    path = run_dir / "config.json"
    path.write_text(path.read_text()[:100])


def damage_by_a_pickle(run_dir):
    torch.save({"model": RunsCode(run_dir / "ran")}, run_dir / "checkpoint.pt")


@pytest.mark.parametrize("damage, message", [
    (damage_by_truncation, "checkpoint.pt: damaged"),
    (damage_by_another_variant, "checkpoint.pt: its guide does not match"),
    (damage_by_a_pickle, "checkpoint.pt: not a checkpoint this project wrote"),
    (damage_the_config, "config.json: not valid JSON"),
])
@pytest.mark.parametrize("command", [["evaluate", "--iw-samples", "0"], ["train", "--resume"]])
def test_a_damaged_or_foreign_checkpoint_is_named_and_refused_without_running_it(tmp_path, capsys, damage, message,
                                                                              command):
    """One line naming the file, exit 2, no traceback, nothing run and nothing written (issue 20)."""
    run_dir = train(tmp_path, "run", "--epochs", "1")
    damage(run_dir)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    capsys.readouterr()
    args = [command[0], *(["--resume", str(run_dir)] if command[0] == "train" else [str(run_dir), *command[1:]])]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "weights_only=False" not in err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # and no file "ran"


def test_a_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """A read-only run folder at evaluate, a read-only --runs-dir at train: refused at once, not after the work.
    (os.access is answered as for a user without write permission: root may write anywhere.)"""
    run_dir = train(tmp_path, "run", "--epochs", "1")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    monkeypatch.setattr(rundir.os, "access", lambda path, mode: False)
    monkeypatch.setattr(life, "load_run", lambda *args, **kwargs: pytest.fail("the evaluation started"))
    monkeypatch.setattr(life, "load_data", lambda *args, **kwargs: pytest.fail("the training started"))
    capsys.readouterr()
    assert main(["evaluate", str(run_dir)]) == 2
    assert main(["train", *TINY, "--runs-dir", str(tmp_path / "more"), "--name", "new"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{run_dir}: not writable" in err[0] and f"{tmp_path}: not writable" in err[1] and len(err) == 2
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before and not (tmp_path / "more").exists()


def test_a_run_killed_mid_training_resumes_to_the_numbers_of_a_straight_run(tmp_path):
    """kill -9 while the run trains (after its first epoch's checkpoint), then --resume: the numbers of a run that
    was never interrupted, since every file is written atomically and the checkpoint holds the RNG and optimizer."""
    epochs = ["--epochs", "12"]
    straight = train(tmp_path, "straight", *epochs)
    command = [sys.executable, str(Path(__file__).parents[1] / "run.py"), "train", *TINY, *epochs,
               "--runs-dir", str(tmp_path), "--name", "killed"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # metrics.jsonl is written before checkpoint.pt each epoch, so wait for the checkpoint (written atomically)
    checkpoint = tmp_path / "killed" / rundir.CHECKPOINT
    while process.poll() is None and not checkpoint.exists():
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    assert len(rundir.read_metrics(tmp_path / "killed")) < 12
    assert main(["train", "--resume", str(tmp_path / "killed"), *epochs]) == 0
    assert_same_numbers(straight, tmp_path / "killed")
