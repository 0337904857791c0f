"""The training schemes any pair may ask for (a Variant's `scheme`, or --scheme): plain SVI, every step labelled,
early stopping on the validation ELBO, and M2's semi-supervised schedule. Each takes (options, model, guide, data,
seed) and returns the train.Training; the families' own schemes live beside their programs (models/)."""
import itertools
from dataclasses import dataclass
from functools import partial

import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae.evaluate import accuracy, mean_log_prob, site_before
from ppl_vae.options import Options, option
from ppl_vae.pairs import Scheme, class_site
from ppl_vae.train import Training

SCHEDULES = ("spread", "every-step", "oversampled")


def plain(options, model, guide, data, seed):
    return Training(data.batches)


def labelled(options, model, guide, data, seed):
    """Every image comes with its label: batches of (images, one-hot labels)."""
    if not data.num_classes:
        raise ValueError("the labelled scheme gives every step its labels; this dataset has none")
    return Training(partial(data.batches, labels=True))


def early_stopping(options, model, guide, data, seed):
    """The validation ELBO picks the epoch (best.pt), as the early stopping of Pyro's CVAE tutorial does."""
    return Training(data.batches, select="valid_elbo")


@dataclass
class SemiSupervisedConfig(Options):
    labelled: int = option(3000, "labelled training images, as many of each class, drawn with --seed", minimum=1)
    labelled_batch: int = option(100, "labelled images in each labelled step", minimum=1)
    alpha: float = option(46.0, "weight of the classification term alpha log q(y | x) per labelled image (Kingma et "
                          "al.'s eq. 9; Pyro's example: 46)", minimum=0)
    schedule: str = option("spread", "how the labelled images meet the unlabelled ones: spread, a pass of labelled "
                           "batches per epoch spread evenly among the unlabelled steps (Pyro's example); every-step, "
                           "a labelled batch in every step, the labelled set cycled and its terms weighted so that "
                           "an epoch's objective is the same (Kingma et al.'s code); oversampled, the same steps "
                           "with each labelled image weighted as an unlabelled one, so the labelled set counts as "
                           "often per epoch as it is seen", choices=SCHEDULES)
    supervised_only: bool = option(False, "train on the labelled images alone: the classifier learns from alpha "
                                   "log q(y | x) only (the labelled ELBO does not involve q(y | x)), a supervised "
                                   "baseline")


def semi_supervised(options, model, guide, data, seed):
    """M2's training (Kingma et al. 2014, eq. 9), for any pair whose model's optional second argument y conditions a
    class site and whose guide draws that site from q(y | x) when y is not given: an epoch is a pass over the
    unlabelled images, whose class the guide sums out (or draws). A labelled batch scores the class as observed and
    adds alpha times the log-likelihood of the labels under the guide's q(y | x). options.schedule places the
    labelled batches: `spread`, as Pyro's example, one pass of them per epoch spread evenly among the unlabelled
    steps; `every-step`, as Kingma et al.'s code, one with every unlabelled batch, the labelled set cycled and its
    terms weighted so that the epoch's objective is unchanged; `oversampled`, the same steps with a labelled image
    weighted as an unlabelled one (the labelled set in effect repeated). The validation accuracy picks the epoch."""
    labelled = data.balanced_subset(options.labelled, seed)
    unlabelled = torch.ones(len(data.images["train"]), dtype=torch.bool, device=labelled.device)
    unlabelled[labelled] = False
    unlabelled = unlabelled.nonzero().flatten()
    site = None
    if model is not None:  # (the schedule alone needs no programs)
        found = class_site(model, data.images["valid"][:1])
        if found is None:
            raise ValueError("the semi-supervised scheme needs a model whose optional second argument y conditions "
                             "a class site (forward(x, y=None), pyro.sample(..., obs=y))")
        site = found[0]

    def labelled_pass():
        return data.batches("train", options.labelled_batch, labels=True, indices=labelled)

    def step_batches(batch_size):
        """(unlabelled images,), (labelled images, labels), or both in one step: (unlabelled, labelled, labels)."""
        unlabelled_batches = data.batches("train", batch_size, indices=unlabelled)
        if options.supervised_only:
            yield from labelled_pass()
        elif options.schedule in ("every-step", "oversampled"):
            cycled = (batch for _ in itertools.count() for batch in labelled_pass())
            for (x,) in unlabelled_batches:
                yield (x, *next(cycled))
        else:
            unlabelled_batches, labelled_batches = list(unlabelled_batches), list(labelled_pass())
            every = max(1, len(unlabelled_batches) // len(labelled_batches))
            for i, batch in enumerate(unlabelled_batches):
                if i % every == 0 and i // every < len(labelled_batches):
                    yield labelled_batches[i // every]
                yield batch

    def step(model, weighted_guide, elbo):
        # labelled images have nothing to enumerate: Trace_ELBO, which like TraceEnum_ELBO samples z once
        trace_elbo = Trace_ELBO()

        def labelled_loss(x, y, weight=1.0):
            """-(L(x, y) + alpha log q(y | x)) summed over the batch, times weight; q(y | x) is read at the guide's
            class site before anything is drawn there."""
            q_y = site_before(guide, site, x)[0]["fn"]
            classification = -weight * options.alpha * q_y.log_prob(y).sum()
            classification.backward()
            return (trace_elbo.loss_and_grads(poutine.scale(model, weight), poutine.scale(weighted_guide, weight), x, y)
                    + classification.item())

        def loss(batch):
            if len(batch) == 1:
                return elbo.loss_and_grads(model, weighted_guide, *batch)
            if len(batch) == 2:
                return labelled_loss(*batch)
            x, x_labelled, y = batch
            # every-step: this batch of labelled images stands for all of them, as this batch of unlabelled ones
            # for those; oversampled: a labelled image weighs what an unlabelled one does
            weight = (len(labelled) * len(x) / (len(unlabelled) * len(x_labelled)) if options.schedule == "every-step"
                      else 1.0)
            return elbo.loss_and_grads(model, weighted_guide, x) + labelled_loss(x_labelled, y, weight)
        return loss

    def validate(model, guide):
        valid = data.images["valid"], data.labels["valid"]
        # the test accuracy is logged per epoch, as Pyro's example logs it, for curves beside its; it picks nothing
        return {"valid_accuracy": accuracy(guide, *valid, site), "valid_log_q_y": mean_log_prob(guide, *valid, site),
                "labelled_accuracy": accuracy(guide, data.images["train"][labelled], data.labels["train"][labelled],
                                              site),
                "test_accuracy": accuracy(guide, data.images["test"], data.labels["test"], site)}

    return Training(data.batches, step_batches, step, validate, select="valid_accuracy")


PLAIN = Scheme("plain", "SVI on batches of images", plain)
LABELLED = Scheme("labelled", "every image with its label: the programs take (images, one-hot labels)", labelled)
EARLY_STOPPING = Scheme("early-stopping", "the validation ELBO picks the epoch whose weights are kept (best.pt)",
                        early_stopping)
SEMI_SUPERVISED = Scheme("semi-supervised", "M2's: --labelled images with their labels, the rest without, on a "
                         "schedule (--schedule), with alpha log q(y | x) on the labelled ones; the validation accuracy "
                         "picks the epoch", semi_supervised, SemiSupervisedConfig)
GENERIC = [PLAIN, LABELLED, EARLY_STOPPING, SEMI_SUPERVISED]
