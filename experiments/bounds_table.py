"""Issue 21's table: each estimator's mean log p(x) (nats per image) per run and split of `run.py bounds` (its
bounds.json), and its seconds per image on the first run's test images.

    python experiments/bounds_table.py RUN_DIR...
"""
import sys
from pathlib import Path

from ppl_vae import rundir
from tables import print_table

NAMES = {"iwae": "IWAE k = {}", "ais": "AIS, {} steps", "bdmc_upper": "reverse AIS, {} steps (upper bound)"}


def main():
    reports = {Path(run).name: rundir.read_json(Path(run) / "bounds.json") for run in sys.argv[1:]}
    columns = [(run, split) for run, report in reports.items() for split in report]
    first = next(iter(reports.values()))["test"]
    rows = []
    for method, name in NAMES.items():
        settings = dict.fromkeys(s for report in reports.values() for split in report.values()
                                 for s in split.get(method, {}))
        for setting in settings:
            cells = [reports[run][split].get(method, {}).get(setting) for run, split in columns]
            seconds = first.get(method, {}).get(setting)
            rows.append((name.format(setting), *(f"{c['log_px']:.3f}" if c else "—" for c in cells),
                         f"{seconds['seconds_per_image']:.3g}" if seconds else "—"))
    print_table(("estimator", *(f"{run}, {split}" for run, split in columns), "seconds per image"), rows)


if __name__ == "__main__":
    main()
