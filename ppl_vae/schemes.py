"""The training schemes of the families whose training differs from SVI on batches of images (train.Training):
each takes (model config, model, guide, data, seed) and returns the Training."""
import itertools
from functools import partial

import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae.data import intensities
from ppl_vae.evaluate import accuracy, cluster_accuracy, code_usage, mean_log_prob
from ppl_vae.guides.empty import NoLatents
from ppl_vae.train import Training, progress, temperature


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


def mixture_from_codes(cfg, model, guide, data, seed):
    """Plain SVI, logging how well the clusters match the validation labels (both matchings) each epoch; with
    cfg.pretrain, VaDE's initialization first (Jiang et al. 2017, sec. 3.4): that many epochs of an autoencoder made
    of the guide's code (the mean of q(z | x)) and the model's decoder, trained on the model's likelihood or, as
    VaDE's code does, on squared error to the grey pixels; then the mixture set to the k-means clusters of the
    training images' codes."""
    def validate(model, guide):
        if (data.labels["valid"] < 0).any():  # unlabelled data: nothing to match the clusters to
            return {}
        valid = data.images["valid"], data.labels["valid"]
        return {"valid_cluster_accuracy": cluster_accuracy(guide, *valid),
                "valid_cluster_accuracy_many_to_one": cluster_accuracy(guide, *valid, many_to_one=True)}

    if not cfg.pretrain:
        return Training(data.batches, validate=validate)
    if not hasattr(guide, "code"):
        raise ValueError("--pretrain needs a guide whose q(z | x) does not see the cluster: --guide vade")

    def initialize(model, guide, train_cfg):
        networks = [*guide.encoder.parameters(), *model.decoder.parameters()]
        optimizer = torch.optim.Adam(networks, lr=cfg.pretrain_lr or train_cfg.lr)
        squared_error = torch.nn.functional.mse_loss if cfg.pretrain_loss == "squared-error" else None  # on grey pixels
        for epoch in range(1, cfg.pretrain + 1):
            with progress(len(data.images["train"]), f"pretraining {epoch}/{cfg.pretrain}") as bar:
                for (x,) in data.batches("train", train_cfg.batch_size, fresh=squared_error is None):
                    outputs = model.likelihood(model.decoder(guide.code(x))).to_event(1)
                    loss = squared_error(outputs.mean, x) if squared_error else -outputs.log_prob(x).sum()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    bar.update(len(x))
        with torch.no_grad():
            codes = torch.cat([guide.code(intensities(x)) for x in data.images["train"].split(1000)])  # of the intensities
        clusters = kmeans(codes.cpu(), model.num_classes, torch.Generator().manual_seed(seed))  # a CPU generator
        model.fit_clusters(codes, clusters.to(codes.device))

    return Training(data.batches, validate=validate, initialize=initialize)


def kmeans(points, k, generator, iterations=100):
    """The cluster of each point under Lloyd's k-means from k-means++ seeds (Arthur & Vassilvitskii 2007)."""
    centres = points[torch.randint(len(points), (1,), generator=generator)]
    for _ in range(k - 1):
        nearest = torch.cdist(points, centres).min(dim=1).values
        centres = torch.cat([centres, points[torch.multinomial(nearest ** 2, 1, generator=generator)]])
    for _ in range(iterations):
        assignments = torch.cdist(points, centres).argmin(dim=1)
        moved = torch.stack([points[assignments == j].mean(0) if (assignments == j).any() else centres[j]
                             for j in range(k)])
        if torch.equal(moved, centres):
            break
        centres = moved
    return assignments


def semi_supervised(cfg, model, guide, data, seed):
    """M2's training (Kingma et al. 2014, eq. 9): an epoch is a pass over the unlabelled images, whose class the guide
    sums out. A labelled batch scores the class as observed and adds alpha times the classifier's log-likelihood of
    the labels (guide.classify). cfg.schedule places the labelled batches: `spread`, as Pyro's example, one pass of
    them per epoch spread evenly among the unlabelled steps; `every-step`, as Kingma et al.'s code, one with every
    unlabelled batch, the labelled set cycled and its terms weighted so that the epoch's objective is unchanged;
    `oversampled`, the same steps with a labelled image weighted as an unlabelled one (the labelled set in effect
    repeated). The validation accuracy picks the epoch."""
    labelled = data.balanced_subset(cfg.labelled, seed)
    unlabelled = torch.ones(len(data.images["train"]), dtype=torch.bool, device=labelled.device)
    unlabelled[labelled] = False
    unlabelled = unlabelled.nonzero().flatten()

    def labelled_pass():
        return data.batches("train", cfg.labelled_batch, labels=True, indices=labelled)

    def step_batches(batch_size):
        """(unlabelled images,), (labelled images, labels), or both in one step: (unlabelled, labelled, labels)."""
        unlabelled_batches = data.batches("train", batch_size, indices=unlabelled)
        if cfg.supervised_only:
            yield from labelled_pass()
        elif cfg.schedule in ("every-step", "oversampled"):
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
            """-(L(x, y) + alpha log q(y | x)) summed over the batch, times weight."""
            return (trace_elbo.loss_and_grads(poutine.scale(model, weight), poutine.scale(weighted_guide, weight), x, y)
                    + trace_elbo.loss_and_grads(poutine.scale(guide.classify, weight * cfg.alpha), NoLatents(), x, y))

        def loss(batch):
            if len(batch) == 1:
                return elbo.loss_and_grads(model, weighted_guide, *batch)
            if len(batch) == 2:
                return labelled_loss(*batch)
            x, x_labelled, y = batch
            # every-step: this batch of labelled images stands for all of them, as this batch of unlabelled ones
            # for those; oversampled: a labelled image weighs what an unlabelled one does
            weight = (len(labelled) * len(x) / (len(unlabelled) * len(x_labelled)) if cfg.schedule == "every-step"
                      else 1.0)
            return elbo.loss_and_grads(model, weighted_guide, x) + labelled_loss(x_labelled, y, weight)
        return loss

    def validate(model, guide):
        valid = data.images["valid"], data.labels["valid"]
        return {"valid_accuracy": accuracy(guide, *valid), "valid_log_q_y": mean_log_prob(guide, *valid),
                "labelled_accuracy": accuracy(guide, data.images["train"][labelled], data.labels["train"][labelled])}

    return Training(data.batches, step_batches, step, validate, select="valid_accuracy")
