"""Training speed of the sentence VAE beside timbmg/Sentence-VAE's (issue 31): its own model (imported from its
checkout) stepped as its train.py steps it, against our trainer's SVI step of the same sizes (a GRU, embedding 300,
hidden 256, latent 16, batches of 32, dropout 0.5 on the decoder's inputs), alternating rounds in one process on
one thread each. Each side draws its batches as its trainer does: the anchor's shuffled at random, ours bucketed by
length (TextDataset.bucketed). Prints seconds per step, the ratio, and minutes per epoch of 42 069 sentences.

    python bench/sentence_anchor.py ANCHOR_DIR [--rounds 5] [--steps 50] [--threads 1]
(ANCHOR_DIR: where experiments/sentence_anchor.sh ran its train.py, and experiments/sentence_side_by_side.sh wrote its
token files.)

The anchor's step is its train.py's: its two loss terms (anchor_terms, in experiments/sentence_side_by_side_table.py),
the KL weighted, over the batch size; torch.optim.Adam with its defaults; the model's settings those of its run.
Its DataLoader's worker processes are left out: the batches are collated beforehand for both sides.
"""
import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import pyro
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppl_vae.data import DataConfig  # noqa: E402
from ppl_vae.objectives import make_elbo  # noqa: E402
from ppl_vae.runs import pair  # noqa: E402
from ppl_vae.text import TextDataset  # noqa: E402
from ppl_vae.train import TrainConfig, elbo_step, latent_weighting, make_optimizer, train_epoch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from sentence_side_by_side_table import anchor_run, anchor_terms  # noqa: E402

SIZES = {"cell": "gru", "one_way_encoder": True, "embedding": 300, "units": 256, "latent": 16, "word_dropout": 0.0,
         "embedding_dropout": 0.5}
KL_WEIGHT = 0.5  # mid-anneal: both sides compute the KL term whatever its weight


def anchor_side(anchor, batch_size):
    """A step function over the anchor's batches, and a batch stream (shuffled at random, as its DataLoader); the
    model's settings those of its run."""
    _, params = anchor_run(anchor)
    from model import SentenceVAE  # the anchor's own code
    from ptb import PTB

    train = PTB(data_dir=str(anchor / "data"), split="train", create_data=False,
                max_sequence_length=params["max_sequence_length"], min_occ=1)
    model = SentenceVAE(**params)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(train, batch_size=batch_size, shuffle=True)

    def steps(batches):
        for batch in batches:
            nll, kl = anchor_terms(model, batch, params["pad_idx"])
            loss = (nll + KL_WEIGHT * kl) / len(batch["input"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return steps, (batch for _ in itertools.count() for batch in loader)


def our_side(anchor, batch_size):
    data = TextDataset(DataConfig(dataset=str(anchor / "tokens")))
    pyro.set_rng_seed(0)
    model, guide = pair("sentence-vae", data.image_shape, **SIZES)
    cfg = TrainConfig(batch_size=batch_size, elbo="meanfield")
    _, latent_scale = latent_weighting(cfg)
    latent_scale.weight = KL_WEIGHT
    elbo, optimizer = make_elbo(cfg.elbo, cfg.num_particles), make_optimizer(model, guide, cfg.lr)
    step = elbo_step(latent_scale(model), latent_scale(guide), elbo)
    return (lambda batches: train_epoch(step, optimizer, batches),
            ((x,) for _ in itertools.count() for x, in data.batches("train", batch_size)))


def seconds_per_step(steps, stream, count):
    batches = list(itertools.islice(stream, count))
    start = time.perf_counter()
    steps(iter(batches))
    return (time.perf_counter() - start) / count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("anchor", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50, help="steps per timed round")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    contenders = {"timbmg/Sentence-VAE": anchor_side(args.anchor.resolve(), 32),
                  "ours (Pyro, SVI)": our_side(args.anchor.resolve(), 32)}
    for steps, stream in contenders.values():  # warm-up
        seconds_per_step(steps, stream, 5)
    times = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, (steps, stream) in contenders.items():
            times[name].append(seconds_per_step(steps, stream, args.steps))
    epoch_steps = -(-42069 // 32)
    print(f"{args.rounds} alternating rounds of {args.steps} steps, batch 32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); median seconds per step:")
    for name, rounds in times.items():
        median = statistics.median(rounds)
        print(f"  {name:22s} {median:.3f} s/step, {median * epoch_steps / 60:.1f} min per epoch of {epoch_steps} steps"
              f"   (rounds: {', '.join(f'{t:.3f}' for t in rounds)})")
    theirs, ours = times.values()
    ratios = [o / t for t, o in zip(theirs, ours)]  # within a round: the machine's speed drifts between rounds
    print(f"ours / timbmg's time per step: median {statistics.median(ratios):.3f} (below 1: ours faster)")


if __name__ == "__main__":
    main()
