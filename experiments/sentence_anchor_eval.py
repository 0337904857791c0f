"""Issue 31, part 1: the per-epoch test numbers of timbmg/Sentence-VAE's own run, read from its own checkpoints with its
own model and data code (imported from its checkout, never copied here): per test sentence, its reconstruction
term (the summed NLL of the words given one z ~ q(z | x), what its README calls NLL), its KL term, and their sum
(minus the ELBO), as its train.py computes them in evaluation mode.

    python experiments/sentence_anchor_eval.py ANCHOR_DIR
(ANCHOR_DIR: where experiments/sentence_anchor.sh ran its train.py; the newest run in ANCHOR_DIR/bin is read.)
"""
import json
import sys
from pathlib import Path

import torch


def main():
    anchor = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(anchor))
    from model import SentenceVAE  # the anchor's own code
    from ptb import PTB

    run = max((anchor / "bin").iterdir(), key=lambda path: path.stat().st_mtime)
    params = json.loads((run / "model_params.json").read_text())
    test = PTB(data_dir=str(anchor / "data"), split="test", create_data=False,
               max_sequence_length=params["max_sequence_length"], min_occ=1)
    loader = torch.utils.data.DataLoader(test, batch_size=32, shuffle=False)
    nll = torch.nn.NLLLoss(ignore_index=params["pad_idx"], reduction="sum")
    print("| epoch | test reconstruction (NLL) | test KL | test -ELBO |\n|---|---|---|---|")
    for checkpoint in sorted(run.glob("E*.pytorch"), key=lambda path: int(path.stem[1:])):
        model = SentenceVAE(**params)
        model.load_state_dict(torch.load(checkpoint, weights_only=True))
        model.eval()
        torch.manual_seed(0)
        total_nll = total_kl = count = 0.0
        with torch.no_grad():
            for batch in loader:
                logp, mean, logv, _ = model(batch["input"], batch["length"])
                target = batch["target"][:, : int(batch["length"].max())].reshape(-1)
                total_nll += nll(logp.reshape(-1, logp.size(2)), target).item()
                total_kl += (-0.5 * torch.sum(1 + logv - mean.pow(2) - logv.exp())).item()
                count += len(batch["input"])
        print(f"| {int(checkpoint.stem[1:]) + 1} | {total_nll / count:.3f} | {total_kl / count:.3f} | "
              f"{(total_nll + total_kl) / count:.3f} |")


if __name__ == "__main__":
    main()
