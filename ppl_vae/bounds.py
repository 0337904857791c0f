"""How tight is the estimate? A trained pair's bounds on log p(x) side by side, with what each cost: the importance-
weighted bound IWAE_k for several k, AIS (ppl_vae/ais.py) at several step counts, on the first test images; and on
images simulated from the model, where the z each came from is an exact posterior draw, the same lower bounds and
reverse AIS's upper bound (BDMC, Grosse et al. 2015), which sandwich the true log p(x).

Every figure is a mean over images of a per-image estimate, in nats, with its standard error over images, and the
seconds it took per image on this machine.
"""
import math
import time
from dataclasses import dataclass

import torch

from ppl_vae import ais, evaluate
from ppl_vae.options import Options, option


@dataclass
class BoundsConfig(Options):
    iw_samples: list[int] = option([1, 10, 100, 1000, evaluate.IW_SAMPLES], "the k of each IWAE_k", minimum=1,
                                   metavar="K")
    ais_steps: list[int] = option([100, 1000], "intermediate distributions of each AIS run, sigmoid-spaced",
                                  minimum=1, metavar="T")
    ais_chains: int = option(16, "AIS chains per image", minimum=1)
    leapfrog_steps: int = option(10, "leapfrog steps of each HMC move (Wu et al.: 10)", minimum=1)
    test_images: int = option(100, "the first N test images", minimum=1, metavar="N")
    simulated: int = option(100, "images simulated from the model, for BDMC's sandwich (0: none)", minimum=0,
                            metavar="N")
    batch_size: int = option(50, "images per pass", minimum=1)
    seed: int = option(0, "seed of the simulation and the chains")


def summary(values, seconds, **extra):
    """Mean and standard error over images of per-image values, the seconds per image, and `extra` facts."""
    values = values.double().cpu()
    return {"log_px": values.mean().item(), "se": (values.std() / math.sqrt(len(values))).item() if len(values) > 1
            else 0.0, "seconds_per_image": seconds / len(values), **extra}


def timed(estimator, batches):
    """Per-image values of `estimator(batch)` over the batches, and the seconds they took."""
    start = time.perf_counter()
    values = torch.cat([estimator(batch).detach().cpu() for batch in batches])
    return values, time.perf_counter() - start


def ais_log_px(model, guide, x, steps, chains, leapfrog_steps, reverse_from=None):
    """Per image of x: forward AIS's log-mean-exp over chains (a stochastic lower bound on log p(x)), or, with the
    exact latent values `reverse_from`, minus reverse AIS's (an upper bound); and the moves' acceptance rate."""
    path = ais.Path(model, guide, (x,), chains=chains)
    values = path.draw()
    schedule = ais.sigmoid_schedule(steps)
    if reverse_from is not None:
        values, schedule = ais.chains_at(path, reverse_from), schedule[::-1]
    direction = "reverse" if reverse_from is not None else "forward"
    log_weight, acceptance = ais.anneal(path, values, schedule, leapfrog_steps,
                                        description=f"{direction} AIS, {steps} steps, {len(x)} images")
    estimate = log_weight.logsumexp(0) - math.log(chains)
    return (-estimate if reverse_from is not None else estimate), acceptance


def compare(model, guide, test_images, simulated_count, iw_samples, ais_steps, chains, leapfrog_steps, batch_size,
            chunk_size):
    """The bounds of the module's docstring: a dict split -> method -> setting -> summary."""
    splits = {"test": (test_images, None)}
    if simulated_count:
        shapes = test_images[:1].expand(simulated_count, *test_images.shape[1:])  # the shape the model draws
        simulated = [ais.simulate(model, x) for x in shapes.split(batch_size)]
        splits["simulated"] = (torch.cat([x for x, _ in simulated]), [latent for _, latent in simulated])
    evaluate.log_likelihood(model, guide, test_images[:1], iw_samples=1)  # the first call's set-up, untimed
    report = {}
    for split, (images, latents) in splits.items():
        batches = images.split(batch_size)
        methods = {"iwae": {}, "ais": {}}
        for k in iw_samples:
            values, seconds = timed(lambda x: evaluate.log_likelihood(model, guide, x, iw_samples=k,
                                                                      chunk_size=chunk_size), batches)
            methods["iwae"][str(k)] = summary(values, seconds)
        for method in ("ais", "bdmc_upper") if latents else ("ais",):
            for steps in ais_steps:
                rates = []

                def estimate(batch_and_start):
                    x, start = batch_and_start
                    value, rate = ais_log_px(model, guide, x, steps, chains, leapfrog_steps, start)
                    rates.append(rate)
                    return value

                starts = latents if method == "bdmc_upper" else [None] * len(batches)
                values, seconds = timed(estimate, zip(batches, starts))
                methods.setdefault(method, {})[str(steps)] = summary(values, seconds, chains=chains,
                                                                     acceptance=sum(rates) / len(rates))
        report[split] = {"images": len(images), **methods}
        print_split(split, report[split])
    return report


def print_split(split, methods):
    print(f"{split} ({methods['images']} images): log p(x), nats per image (mean ± standard error), seconds per image")
    for method in ("iwae", "ais", "bdmc_upper"):
        for setting, result in methods.get(method, {}).items():
            name = {"iwae": f"IWAE k = {setting}", "ais": f"AIS {setting} steps",
                    "bdmc_upper": f"reverse AIS {setting} steps (upper bound)"}[method]
            extra = f", acceptance {result['acceptance']:.2f}" if "acceptance" in result else ""
            print(f"  {name:38s} {result['log_px']:10.3f} ± {result['se']:.3f}   {result['seconds_per_image']:.3g} s"
                  + extra)
