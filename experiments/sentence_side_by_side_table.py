"""Issue 31, part 1: the sentence VAE beside timbmg/Sentence-VAE, epoch by epoch, on the test split: per sentence, the
reconstruction term (the summed NLL of the words given one z ~ q(z | x), what its README calls NLL), the KL term and
their sum (minus the ELBO); minutes per epoch; for ours, the importance-weighted NLL and perplexity (k = 100) at the
end.

The anchor's numbers are computed from its own checkpoints with its own model and data code, imported from its
checkout (never copied here), in evaluation mode as its train.py computes them. Its minutes per epoch come from its
checkpoints' times (an epoch's training, and the previous epoch's validation and test passes). Ours are computed
the same way (one z ~ q(z | x) per sentence for the reconstruction term, the KL term in closed form) from the run's
weights after each epoch (`--record`, which experiments/sentence_side_by_side.sh calls), and its minutes from its
metrics.

    python experiments/sentence_side_by_side_table.py ANCHOR_DIR [RUN_DIR]
    python experiments/sentence_side_by_side_table.py --record RUN_DIR EPOCH    # writes RUN_DIR/test-terms-eE.json
(ANCHOR_DIR: where experiments/sentence_anchor.sh ran its train.py; the newest run in ANCHOR_DIR/bin is read.)
"""
import json
import sys
from pathlib import Path

import torch
from torch.distributions import Normal, kl_divergence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppl_vae import rundir  # noqa: E402
from ppl_vae.evaluate import traces  # noqa: E402
from ppl_vae.runs import load_run  # noqa: E402


def anchor_run(anchor):
    """The anchor's newest run folder and its model's settings (its model_params.json), its code importable."""
    sys.path.insert(0, str(anchor))
    run = max((anchor / "bin").iterdir(), key=lambda path: path.stat().st_mtime)
    return run, json.loads((run / "model_params.json").read_text())


def anchor_terms(model, batch, pad_idx):
    """The anchor's two loss terms on a batch, summed over its sentences, as its train.py computes them: the NLL of
    the real tokens given one z ~ q(z | x), and the KL term in closed form."""
    logp, mean, logv, _ = model(batch["input"], batch["length"])
    target = batch["target"][:, : int(batch["length"].max())].reshape(-1)
    nll = torch.nn.functional.nll_loss(logp.reshape(-1, logp.size(2)), target, ignore_index=pad_idx, reduction="sum")
    return nll, -0.5 * torch.sum(1 + logv - mean.pow(2) - logv.exp())


def anchor_epochs(anchor):
    """[(epoch, reconstruction, KL, minutes)] of the anchor's newest run, per test sentence."""
    run, params = anchor_run(anchor)
    from model import SentenceVAE  # the anchor's own code
    from ptb import PTB

    test = PTB(data_dir=str(anchor / "data"), split="test", create_data=False,
               max_sequence_length=params["max_sequence_length"], min_occ=1)
    loader = torch.utils.data.DataLoader(test, batch_size=32, shuffle=False)
    rows, before = [], (run / "model_params.json").stat().st_mtime
    for checkpoint in sorted(run.glob("E*.pytorch"), key=lambda path: int(path.stem[1:])):
        model = SentenceVAE(**params)
        model.load_state_dict(torch.load(checkpoint, weights_only=True))
        model.eval()
        torch.manual_seed(0)
        total_nll = total_kl = count = 0.0
        with torch.no_grad():
            for batch in loader:
                nll, kl = anchor_terms(model, batch, params["pad_idx"])
                total_nll, total_kl, count = total_nll + nll.item(), total_kl + kl.item(), count + len(batch["input"])
        finished = checkpoint.stat().st_mtime
        rows.append((int(checkpoint.stem[1:]) + 1, total_nll / count, total_kl / count, (finished - before) / 60))
        before = finished
    return rows


def record(run_dir, epoch):
    """Our run's test terms per sentence, as anchor_epochs computes the anchor's, to RUN_DIR/test-terms-eE.json."""
    _, model, guide, data = load_run(run_dir)
    torch.manual_seed(0)
    total_nll = total_kl = 0.0
    with torch.no_grad():
        for (x,) in data.batches("test", 32, shuffle=False):
            guide_trace, model_trace = traces(model, guide, x)
            total_nll -= model_trace.log_prob_sum(lambda name, site: site["is_observed"]).item()
            total_kl += kl_divergence(guide_trace.nodes["z"]["fn"].base_dist, Normal(0.0, 1.0)).sum().item()
    count = len(data.images["test"])
    rundir.write_json(run_dir / f"test-terms-e{epoch}.json", {"recon": total_nll / count, "kl": total_kl / count})


def our_epochs(run_dir):
    """[(epoch, reconstruction, KL, minutes)] of our run, per test sentence, from its --record files."""
    seconds = [m["seconds"] for m in rundir.read_metrics(run_dir)]
    rows = []
    for path in sorted(run_dir.glob("test-terms-e*.json")):
        epoch, terms = int(path.stem.split("-e")[-1]), rundir.read_json(path)
        rows.append((epoch, terms["recon"], terms["kl"], seconds[epoch - 1] / 60))
    return rows


def main():
    if sys.argv[1] == "--record":
        return record(Path(sys.argv[2]), int(sys.argv[3]))
    anchor = Path(sys.argv[1]).resolve()
    sides = {"timbmg/Sentence-VAE": anchor_epochs(anchor)}
    if len(sys.argv) > 2:
        run_dir = Path(sys.argv[2])
        sides["ours"] = our_epochs(run_dir)
    print("| run | epoch | test reconstruction (NLL) | test KL | test -ELBO | minutes for the epoch |")
    print("|---|---|---|---|---|---|")
    for name, rows in sides.items():
        for epoch, recon, kl, minutes in rows:
            print(f"| {name} | {epoch} | {recon:.3f} | {kl:.3f} | {recon + kl:.3f} | {minutes:.1f} |")
    if len(sys.argv) > 2 and (run_dir / "evaluation-k100.json").exists():
        results = rundir.read_json(run_dir / "evaluation-k100.json")
        print(f"\nours after {len(sides['ours'])} epochs: importance-weighted NLL (k = 100) "
              f"{results['test_nll']:.2f} ± {results['test_nll_se']:.2f} nats per sentence, perplexity "
              f"{results['test_ppl']:.1f}")


if __name__ == "__main__":
    main()
