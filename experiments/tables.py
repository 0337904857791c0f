"""What the table scripts share: a run folder's files and a Markdown table."""
from ppl_vae import rundir


def read_run(run_dir):
    """A run's configuration, its evaluation.json, its metrics per epoch and its training time in minutes."""
    metrics = rundir.read_metrics(run_dir)
    return (rundir.read_json(run_dir / rundir.CONFIG), rundir.read_json(run_dir / rundir.EVALUATION), metrics,
            sum(m["seconds"] for m in metrics) / 60)


def print_table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cells in rows:
        print("| " + " | ".join(map(str, cells)) + " |")
