"""Data-parallel scaling: the MNIST VAE trained for some epochs as one process (no Lightning), then with
`--devices 1` and `--devices N` on Lightning (CPU processes on gloo, or GPUs with --device cuda), the same images per
step. Prints the training images per second of each (from the runs' metrics: the epochs' seconds, validation
included) and the ratios to the single process measured in the same call.

    python bench/data_parallel.py [--devices 2] [--epochs 2] [--subset 20000] [--batch-size 100] [--device cpu]

Every process of a CPU run is given one thread (OMP_NUM_THREADS=1), so that N processes use N cores.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ppl_vae import rundir  # noqa: E402


def images_per_second(runs_dir, name, common, extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "run.py", "train", *common, "--runs-dir", runs_dir, "--name", name, *extra],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    metrics = rundir.read_metrics(Path(runs_dir) / name)
    images = len(metrics) * int(common[common.index("--subset") + 1])
    return images / sum(m["seconds"] for m in metrics)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    common = ["--model", "vae", "--epochs", str(args.epochs), "--subset", str(args.subset), "--batch-size",
              str(args.batch_size), "--device", args.device, "--seed", "0"]
    with tempfile.TemporaryDirectory() as runs_dir:
        reference = images_per_second(runs_dir, "one", common, [])
        print(f"one process (no Lightning):   {reference:8.0f} images/s")
        for devices in sorted({1, args.devices}):
            rate = images_per_second(runs_dir, f"ddp{devices}", common, ["--devices", str(devices)])
            print(f"Lightning, {devices} process(es): {rate:8.0f} images/s   {rate / reference:.2f} x one process")


if __name__ == "__main__":
    main()
