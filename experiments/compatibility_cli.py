"""Issue 30's count, taken as a new user meets the matrix: one tiny epoch from the command line (a process of its own)
for every variant with every guide and with every objective, each run classified by what the user sees.

    train     exit 0, with a checkpoint in the run folder
    refused   exit 2, one line, and no run folder
    crash     a Python traceback
    messy     a refusal of more than one line
    late      refused, but the run folder was written

    python experiments/compatibility_cli.py [--repo CHECKOUT] [--jobs 2] [--out cells.json]

CHECKOUT (default this one) is the version measured, run with this interpreter. The variants, guides and objectives
are read from `run.py list` and `--help` of that checkout, so an older one is measured on its own table.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TINY = ["--epochs", "1", "--subset", "200", "--batch-size", "100"]


def table(repo):
    """(variants, guides, objectives) as the checkout's command line lists them."""
    listing = subprocess.run([sys.executable, "run.py", "list"], cwd=repo, capture_output=True, text=True).stdout
    sections, current = {}, None
    for line in listing.splitlines():
        if not line.startswith(" "):
            current = line.split(" ")[0]
        else:
            sections.setdefault(current, []).append(line.split()[0])
    helped = subprocess.run([sys.executable, "run.py", "train", "--help"], cwd=repo, capture_output=True,
                            text=True).stdout
    objectives = re.search(r"--elbo \{([^}]*)\}", helped).group(1).split(",")
    return sections["variants"], sections["guides"], objectives


def shown(stream):
    """The lines a user reads: progress bars (rewritten in place with \\r) and warnings left out."""
    lines = [line.split("\r")[-1] for line in stream.splitlines()]
    return [line for line in lines if line.strip() and not line.startswith("epoch ")
            and "Warning" not in line and not line.startswith("  warnings.warn")]


def classify(repo, argv, scratch):
    run_dir = scratch / "cell"
    shutil.rmtree(run_dir, ignore_errors=True)
    done = subprocess.run([sys.executable, "run.py", "train", *argv, *TINY, "--runs-dir", str(scratch), "--name",
                           "cell"], cwd=repo, capture_output=True, text=True)
    said = shown(done.stderr)
    if done.returncode == 0 and (run_dir / "checkpoint.pt").exists():
        result = "train"
    elif "Traceback" in done.stderr:
        result = "crash"
    elif run_dir.exists():
        result = "late"
    elif done.returncode == 2 and len(said) == 1:
        result = "refused"
    else:
        result = "messy"
    first = next((line for line in reversed(said) if line.strip()), "") if result == "crash" else (said or [""])[0]
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"argv": argv, "result": result, "exit": done.returncode, "lines": len(said), "said": first[:300]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write every cell's result here (JSON)")
    args = parser.parse_args()
    variants, guides, objectives = table(args.repo)
    cells = ([["--model", v, "--guide", g] for v in variants for g in guides]
             + [["--model", v, "--elbo", o] for v in variants for o in objectives])
    print(f"{len(variants)} variants, {len(guides)} guides, {len(objectives)} objectives: {len(cells)} cells",
          flush=True)
    scratches = [Path(tempfile.mkdtemp(prefix="cell")) for _ in range(args.jobs)]

    def run(numbered):
        index, argv = numbered
        outcome = classify(args.repo, argv, scratches[index % args.jobs] / str(index))
        print(f"{outcome['result']:8s} {' '.join(argv)}: {outcome['said']}", flush=True)
        return outcome

    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(run, enumerate(cells)))
    for scratch in scratches:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(outcomes, indent=1))
    counts = Counter(outcome["result"] for outcome in outcomes)
    print("\n| result | cells |\n|---|---|")
    for result in ("train", "refused", "crash", "messy", "late"):
        print(f"| {result} | {counts[result]} |")


if __name__ == "__main__":
    main()
