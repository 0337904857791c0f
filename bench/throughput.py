"""Training throughput: our trainer (Pyro model/guide, Pyro ELBO) against a plain-PyTorch loop of the same network
and the same loss, alternating in one process on the same batches pipeline. Prints images/second and the ratios.

    python bench/throughput.py [--batch-size 100] [--elbo meanfield|trace] [--rounds 7] [--steps 100]

The plain loop is written as a PyTorch user would: reparameterized z, binary_cross_entropy_with_logits, the KL in
closed form (meanfield) or as log q - log p at the sample (trace), and torch.optim.Adam with its defaults. It runs
twice: with the default Adam, and with the fused Adam that our trainer uses, to separate the optimizer's share.
"""
import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import pyro
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppl_vae.data import DataConfig, Dataset  # noqa: E402
from ppl_vae.runs import pair  # noqa: E402
from ppl_vae.objectives import make_elbo  # noqa: E402
from ppl_vae.train import (TrainConfig, elbo_step, latent_weighting, make_optimizer,  # noqa: E402
                           train_epoch)


def plain_step(encoder, decoder, optimizer, x, analytic_kl):
    loc, raw_scale = encoder(x).chunk(2, dim=-1)
    q = Normal(loc, F.softplus(raw_scale))
    z = q.rsample()
    log_likelihood = -F.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(-1)
    if analytic_kl:
        kl = kl_divergence(q, Normal(0.0, 1.0)).sum(-1)
    else:
        kl = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1)
    loss = (kl - log_likelihood).sum()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return -loss.item()


def images_per_second(run, data, batch_size, steps):
    batches = list(itertools.islice(data.batches("train", batch_size), steps))
    start = time.perf_counter()
    run(iter(batches))
    return sum(len(x) for x, in batches) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--elbo", choices=["meanfield", "trace"], default=TrainConfig.elbo)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=100, help="SVI steps per timed round")
    args = parser.parse_args()

    data = Dataset(DataConfig(), seed=0)
    pyro.set_rng_seed(0)
    model, guide = pair("vae", data.image_shape)
    cfg = TrainConfig(batch_size=args.batch_size, elbo=args.elbo)
    elbo, optimizer = make_elbo(cfg.elbo, cfg.num_particles), make_optimizer(model, guide, cfg.lr)
    _, latent_scale = latent_weighting(cfg)  # as fit weights the KL term
    pyro.set_rng_seed(0)
    plain_model, plain_guide = pair("vae", data.image_shape)  # the same networks, trained by plain loops
    encoder, decoder = plain_guide.encoder, plain_model.decoder
    params = [*encoder.parameters(), *decoder.parameters()]
    plain_adam = torch.optim.Adam(params, lr=cfg.lr)
    fused_adam = torch.optim.Adam(params, lr=cfg.lr, fused=True)
    analytic = args.elbo == "meanfield"

    def plain_loop(adam):
        return lambda batches: [plain_step(encoder, decoder, adam, x, analytic) for x, in batches]

    ours = "ours (Pyro ELBO, trainer)"
    contenders = {
        ours: lambda batches: train_epoch(elbo_step(latent_scale(model), latent_scale(guide), elbo), optimizer,
                                          batches),
        "plain PyTorch, Adam": plain_loop(plain_adam),
        "plain PyTorch, fused Adam": plain_loop(fused_adam),
    }
    for run in contenders.values():  # warm-up
        images_per_second(run, data, args.batch_size, 10)
    rates = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            rates[name].append(images_per_second(run, data, args.batch_size, args.steps))

    print(f"batch {args.batch_size}, elbo {args.elbo}, {args.rounds} alternating rounds of {args.steps} steps, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; median images/second:")
    for name, rounds in rates.items():
        print(f"  {name:28s} {statistics.median(rounds):9.0f}   (rounds: {', '.join(f'{r:.0f}' for r in rounds)})")
    # The machine's speed drifts between rounds; the contenders of one round ran back to back, so the ratio is taken
    # within each round, and its median reported.
    for reference, meaning in (("plain PyTorch, Adam", "target >= 0.95"),
                               ("plain PyTorch, fused Adam", "Pyro's tracing cost alone")):
        ratios = [a / b for a, b in zip(rates[ours], rates[reference])]
        low, median, high = statistics.quantiles(ratios, n=4)
        print(f"ours / {reference}: median ratio {median:.3f}, quartiles {low:.3f}-{high:.3f}   ({meaning})")


if __name__ == "__main__":
    main()
