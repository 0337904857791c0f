"""A run is a folder: config.json, metrics.jsonl, checkpoint.pt and pictures, each written atomically."""
import json
import os
import pickle
import tempfile
from pathlib import Path

import torch

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"  # the weights of the epoch with the best validation score, for variants that select one
EVALUATION = "evaluation.json"
TEST_LOG_LIKELIHOOD = "test_log_likelihood.npy"  # importance-weighted log p(x) per test image, in test order
UMASK = os.umask(0o022)
os.umask(UMASK)


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it over `path`: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes the file private; give it the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def check_writable(folder):
    """Refuse, before any work is done, a folder whose results could not be written at the end."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such run folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{folder}: not writable, so the results could not be saved; make it writable or copy "
                              "the run folder elsewhere")


def check_creatable(folder):
    """Refuse, before any work is done, a new run folder that could not be made: its nearest existing ancestor
    must be a folder we may write in."""
    ancestor = Path(folder).absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"{ancestor}: not a folder, so {folder} cannot be made in it; pick another --runs-dir")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"{ancestor}: not writable, so {folder} cannot be made in it; pick another --runs-dir")


def write_json(path, obj):
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e}); a damaged config.json can be rewritten from a run's "
                         "command, or the run trained again") from None


def read_metrics(run_dir):
    path = Path(run_dir) / METRICS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_metrics(run_dir, rows):
    atomic_write(Path(run_dir) / METRICS, lambda f: f.write("".join(json.dumps(r) + "\n" for r in rows).encode()))


def save_checkpoint(run_dir, state, name=CHECKPOINT):
    atomic_write(Path(run_dir) / name, lambda f: torch.save(state, f))


def load_checkpoint(run_dir, name=CHECKPOINT):
    path = Path(run_dir) / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint (was the run interrupted before its first epoch ended?)")
    # weights_only: plain tensors and containers, never arbitrary pickled objects. On the CPU, as the RNG states must
    # be; load_state_dict moves the rest to the device of the modules and optimizer.
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # what torch's message advises (weights_only=False) would run the file's code
        raise ValueError(f"{path}: not a checkpoint this project wrote (it holds more than tensors and plain "
                         "containers); refused, and nothing in it was run") from None
    except (RuntimeError, EOFError) as e:  # a torn or truncated zip archive
        raise ValueError(f"{path}: damaged ({str(e).splitlines()[0]}); train the run again, or --resume it from a "
                         "copy of the run folder") from None


def load_state(module, checkpoint, key, run_dir, name=CHECKPOINT):
    """module.load_state_dict(checkpoint[key]) (a model, a guide, an optimizer), or one line naming the checkpoint
    and the configuration that disagree."""
    try:
        module.load_state_dict(checkpoint[key])
    except (RuntimeError, KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{Path(run_dir) / name}: its {key} does not match {Path(run_dir) / CONFIG} "
                         f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); was config.json edited after "
                         "training?") from None
