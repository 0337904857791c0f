"""Data-parallel training and sharded evaluation on Lightning (ppl_vae/distributed.py), with CPU processes on gloo:
the same numbers as one process. Each command runs as its own `python run.py`, as a user runs it: Lightning starts
the other processes by running the command again."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ppl_vae import distributed, rundir
from ppl_vae.data import DataConfig, Dataset

pytest.importorskip("lightning")
ROOT = Path(__file__).resolve().parents[1]
# a deterministic pair (the point-mass guide on grey pixels: no draws), so that the runs must agree to float precision
DETERMINISTIC = ["--model", "vae", "--guide", "delta", "--binarize", "none", "--subset", "500", "--latent", "2",
                 "--hidden", "16", "--batch-size", "40", "--seed", "3", "--device", "cpu"]


def run(*arguments):
    result = subprocess.run([sys.executable, "run.py", *map(str, arguments)], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    return result.returncode, result.stdout, result.stderr


def weights(run_dir):
    checkpoint = rundir.load_checkpoint(run_dir)
    return {f"{key}.{name}": value for key in ("model", "guide") for name, value in checkpoint[key].items()}


def assert_close(a, b):
    # the gradients' sums over 2 x 20 and 40 images differ in the order of float additions: a few ulps
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=0, atol=1e-6) for k in a)


def test_each_step_shares_its_batch_and_the_epoch_is_covered_once():
    """Every process draws the same permutation; a step's images, together, are the step's batch of one process,
    and the epoch is every image once (a last batch too small to share is left out)."""
    data = Dataset(DataConfig(subset=60, binarize="none"), seed=0)
    count = len(data.images["train"])
    order = torch.randperm(count, generator=torch.Generator().manual_seed(9))
    shards = [list(distributed.shard_batches(data, 16, rank, 3, torch.Generator().manual_seed(9))) for rank in range(3)]
    assert len({len(steps) for steps in shards}) == 1  # the processes step together
    for t, step in enumerate(zip(*shards)):
        together = torch.cat([x for (x,) in step])
        assert torch.equal(together, data.images["train"][order[16 * t : 16 * (t + 1)]])
    assert sum(len(x) for steps in shards for (x,) in steps) == count - (count % 16 if count % 16 < 3 else 0)


def test_two_processes_train_as_one_and_resume_on_another_number(tmp_path):
    """2 CPU processes with a step of 40 images (20 each) give the weights of one process stepping on the same 40
    images; and a run of 1 epoch on 2 processes resumed for a 2nd on 1 process ends where 2 epochs on 1 do."""
    code, _, err = run("train", *DETERMINISTIC, "--epochs", "2", "--devices", "1", "--runs-dir", tmp_path, "--name",
                       "one")
    assert code == 0, err
    assert run("train", *DETERMINISTIC, "--epochs", "2", "--devices", "2", "--runs-dir", tmp_path, "--name",
               "two")[0] == 0
    assert_close(weights(tmp_path / "one"), weights(tmp_path / "two"))
    assert run("train", *DETERMINISTIC, "--epochs", "1", "--devices", "2", "--runs-dir", tmp_path, "--name",
               "resumed")[0] == 0
    code, out, _ = run("train", "--resume", tmp_path / "resumed", "--epochs", "2", "--devices", "1", "--device", "cpu")
    assert code == 0 and "after 2 epochs" in out
    assert_close(weights(tmp_path / "one"), weights(tmp_path / "resumed"))
    metrics = rundir.read_metrics(tmp_path / "two")
    assert [m["epoch"] for m in metrics] == [1, 2]  # written once, by the first process


def test_sharded_evaluation_gives_the_values_of_one_process(tmp_path):
    """evaluate --devices 2 deals the test batches out and gathers the per-image log p(x) back in test order: the
    same file, value for value, as one process (each batch's samples seeded by its index)."""
    assert run("train", "--model", "vae", "--subset", "300", "--epochs", "1", "--latent", "2", "--hidden", "16",
               "--runs-dir", tmp_path, "--name", "vae")[0] == 0
    flags = ["--iw-samples", "10", "--test-images", "50", "--iw-batch-size", "7", "--device", "cpu"]
    assert run("evaluate", tmp_path / "vae", *flags)[0] == 0
    single = np.load(tmp_path / "vae" / "test_log_likelihood-k10-n50.npy")
    report = json.loads((tmp_path / "vae" / "evaluation-k10-n50.json").read_text())
    code, out, err = run("evaluate", tmp_path / "vae", *flags, "--devices", "2", "--overwrite")
    assert code == 0, err
    assert out.count("test  NLL") == 1  # one report, by the first process
    assert np.array_equal(np.load(tmp_path / "vae" / "test_log_likelihood-k10-n50.npy"), single)
    assert json.loads((tmp_path / "vae" / "evaluation-k10-n50.json").read_text()) == report


@pytest.mark.parametrize("flags, message", [
    (["--devices", "999"], "--devices 999: more CPU processes than"),
    (["--model", "vade", "--pretrain", "1", "--devices", "2"], "cannot be shared among processes: it starts from a "
                                                                 "pretraining"),
])
def test_a_request_that_cannot_be_served_is_refused_in_one_line(tmp_path, flags, message):
    code, out, err = run("train", "--subset", "300", "--epochs", "1", "--device", "cpu", "--runs-dir", tmp_path, *flags)
    assert code == 2
    assert message in err and err.count("error:") == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_one_gpu_process_on_nccl_trains_as_on_the_cpu(tmp_path):
    """--device cuda --devices 1: Lightning on nccl; the deterministic pair ends near the CPU's weights."""
    assert run("train", *DETERMINISTIC, "--epochs", "1", "--devices", "1", "--runs-dir", tmp_path, "--name",
               "cpu")[0] == 0
    flags = [flag if flag != "cpu" else "cuda" for flag in DETERMINISTIC]
    code, _, err = run("train", *flags, "--epochs", "1", "--devices", "1", "--runs-dir", tmp_path, "--name", "gpu")
    assert code == 0, err
    cpu, gpu = weights(tmp_path / "cpu"), weights(tmp_path / "gpu")
    assert all(torch.allclose(cpu[k], gpu[k].cpu(), atol=1e-4) for k in cpu)
