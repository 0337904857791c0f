"""The training schemes of the families whose training differs from SVI on batches of images (train.Training):
each takes (model config, model, guide, data, seed) and returns the Training."""
from functools import partial

import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae.evaluate import accuracy, code_usage
from ppl_vae.guides.empty import NoLatents
from ppl_vae.train import Training, temperature


def annealed_temperature(cfg, model, guide, data, seed):
    """SVI on the images, the relaxation's temperature (model.one_hot, shared with the guide) set before each step by
    its schedule and logged each epoch."""
    def before_step(step):
        model.one_hot.temperature = temperature(step, cfg.temperature, cfg.min_temperature, cfg.anneal_rate,
                                                cfg.anneal_every)

    return Training(data.batches, validate=lambda model, guide: {"temperature": model.one_hot.temperature},
                    before_step=before_step)


def code_perplexity(cfg, model, guide, data, seed):
    """SVI on the images; each epoch logs how many codes the validation images use and the perplexity of their use."""
    def validate(model, guide):
        used, perplexity = code_usage(guide, data.batches("valid", 1000, False), model.codebook.num_codes)
        return {"valid_codes_used": used, "valid_perplexity": perplexity}

    return Training(data.batches, validate=validate)


def labelled(cfg, model, guide, data, seed):
    """Every image comes with its label: batches of (images, one-hot labels)."""
    return Training(partial(data.batches, labels=True))


def early_stopping(cfg, model, guide, data, seed):
    """The validation ELBO picks the epoch (best.pt), as the early stopping of Pyro's CVAE tutorial does."""
    return Training(data.batches, select="valid_elbo")


def semi_supervised(cfg, model, guide, data, seed):
    """M2's training (Kingma et al. 2014, eq. 9), as Pyro's example interleaves it: an epoch is a pass over the
    unlabelled images, whose class the guide sums out, with the labelled ones (a pass of batches of
    cfg.labelled_batch) spread evenly among them; a labelled step scores the class as observed and adds alpha times
    the classifier's log-likelihood of the labels (guide.classify). The validation accuracy picks the epoch."""
    labelled = data.balanced_subset(cfg.labelled, seed)
    unlabelled = torch.ones(len(data.images["train"]), dtype=torch.bool, device=labelled.device)
    unlabelled[labelled] = False
    unlabelled = unlabelled.nonzero().flatten()

    def step_batches(batch_size):
        """(unlabelled images,) batches, and (labelled images, labels) batches spread evenly among them."""
        unlabelled_batches = list(data.batches("train", batch_size, indices=unlabelled))
        labelled_batches = list(data.batches("train", cfg.labelled_batch, labels=True, indices=labelled))
        if cfg.supervised_only:
            yield from labelled_batches
            return
        every = max(1, len(unlabelled_batches) // len(labelled_batches))
        for i, batch in enumerate(unlabelled_batches):
            if i % every == 0 and i // every < len(labelled_batches):
                yield labelled_batches[i // every]
            yield batch

    def step(model, weighted_guide, elbo):
        # labelled images have nothing to enumerate: Trace_ELBO, which like TraceEnum_ELBO samples z once
        classify, trace_elbo = poutine.scale(guide.classify, scale=cfg.alpha), Trace_ELBO()

        def loss(batch):
            if len(batch) == 1:
                return elbo.loss_and_grads(model, weighted_guide, *batch)
            return (trace_elbo.loss_and_grads(model, weighted_guide, *batch)
                    + trace_elbo.loss_and_grads(classify, NoLatents(), *batch))
        return loss

    def validate(model, guide):
        return {"valid_accuracy": accuracy(guide, data.images["valid"], data.labels["valid"])}

    return Training(data.batches, step_batches, step, validate, select="valid_accuracy")
