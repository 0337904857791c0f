"""Runs: a configuration -> the (model, guide) pair, training into a run folder, and reading a trained run back to
evaluate and report it. Shared by the command line, bench/ and experiments/, and the Python API:

    from ppl_vae import runs
    run_dir = runs.train(runs.configure("vae", guide="flow", train={"epochs": 5}), "runs/flow")
    config, model, guide, data = runs.load_run(run_dir)

configuration.py   the configuration of a run, and the pair it builds
validation.py      a run checked before anything is written or launched: trains, or one line saying why not
matrix.py          every variant with every guide, objective and scheme through that validation (list --matrix)
life.py            training into a run folder, resuming it, its pictures, loading it back
report.py          the evaluation of a trained run, computed and printed apart
"""
from ppl_vae.runs.configuration import configure, pair
from ppl_vae.runs.life import load_run, train

__all__ = ["configure", "pair", "train", "load_run"]
