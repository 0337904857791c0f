"""A Gaussian-mixture VAE: a discrete cluster with a learned prior picks the mean and scale of a Gaussian latent,
which a decoder turns into pixels,

    y ~ Categorical(softmax(cluster_logits))             one-hot, `clusters` values; uniform, or learned
    z | y ~ Normal(cluster_locs[y], diag(exp(cluster_log_scales[y])^2))
    x | z ~ likelihood(decoder(z))

With M2's guide q(y | x) q(z | x, y) (guides/m2.py), whose y is marked for enumeration, TraceEnum_ELBO sums the
ELBO over the clusters exactly, each weighted by q(y | x). Training observes no y; a y given to the model conditions
the cluster (samples of one cluster, say).
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.data import intensities
from ppl_vae.evaluate import site_before
from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import mlp
from ppl_vae.options import Options, option
from ppl_vae.pairs import Scheme, Variant, latent_sites
from ppl_vae.train import Pretraining, Training


class GaussianMixtureVAE(nn.Module):
    def __init__(self, decoder: nn.Module, latent_dim: int, clusters: int, likelihood: nn.Module, learn_weights=True):
        super().__init__()
        self.decoder = decoder
        self.num_classes = clusters
        self.likelihood = likelihood
        if learn_weights:
            self.cluster_logits = nn.Parameter(torch.zeros(clusters))
        else:
            self.register_buffer("cluster_logits", torch.zeros(clusters))
        # the clusters start apart (unit-variance means), else they are interchangeable and stay alike
        self.cluster_locs = nn.Parameter(torch.randn(clusters, latent_dim))
        self.cluster_log_scales = nn.Parameter(torch.zeros(clusters, latent_dim))

    def forward(self, x, y=None):
        pyro.module("gmvae", self)
        with pyro.plate("data", x.shape[0], device=x.device):
            y = pyro.sample("y", dist.OneHotCategorical(logits=self.cluster_logits), obs=y)
            z = pyro.sample("z", dist.Normal(y @ self.cluster_locs, (y @ self.cluster_log_scales).exp()).to_event(1))
            pyro.sample("x", self.likelihood(self.decoder(z)).to_event(1), obs=x)

    def shared(self):
        """log p(y | z), which VaDE's guide reads as its q(y | x) (guides/vade.py)."""
        return {"cluster_posterior": self.cluster_log_posterior}

    def cluster_log_posterior(self, z):
        """log p(y | z) up to a constant per z, for each cluster: log p(y) + log Normal(z; locs[y], scales[y]), z of
        shape (..., latent) -> (..., clusters)."""
        components = dist.Normal(self.cluster_locs, self.cluster_log_scales.exp()).to_event(1)
        return self.cluster_logits.log_softmax(-1) + components.log_prob(z.unsqueeze(-2))

    @torch.no_grad()
    def fit_clusters(self, codes, assignments):
        """The mixture set to the codes' clusters (VaDE's initialization from a pretrained autoencoder): each
        cluster's weight, mean and per-dimension scale those of its codes."""
        for k in range(self.num_classes):
            members = codes[assignments == k]
            self.cluster_locs[k] = members.mean(0)
            self.cluster_log_scales[k] = members.std(0).clamp(min=1e-3).log() if len(members) > 1 else 0.0
            if isinstance(self.cluster_logits, nn.Parameter):
                self.cluster_logits[k] = math.log(max(len(members), 1) / len(codes))


PRETRAIN_LOSSES = ["likelihood", "squared-error"]
HIDDEN_HELP = "hidden layer sizes of the MLPs (ReLU), encoder side first; the decoder mirrors them"


@dataclass
class MixtureConfig(LikelihoodConfig):
    clusters: int = option(10, "values of the mixture's cluster y", minimum=2)
    latent: int = option(10, "latent dimension", minimum=1)
    hidden: list[int] = option([500, 500], HIDDEN_HELP, minimum=1)
    learn_weights: bool = option(True, "uniform mixture weights, not learned", flag="--uniform-weights")


@dataclass
class VaDEConfig(MixtureConfig):
    # VaDE's MNIST networks (Jiang et al. 2017, sec. 4.1): 784-500-500-2000-10 and its mirror, pretrained
    hidden: list[int] = option([500, 500, 2000], HIDDEN_HELP, minimum=1)


@dataclass
class PretrainingConfig(Options):
    pretrain: int = option(10, "epochs of autoencoder pretraining (the mean of the guide's q(z | x) and the "
                           "decoder), after which the mixture is set to the k-means clusters of the codes (VaDE, "
                           "Jiang et al. 2017); 0: none", minimum=0)
    # VaDE's reference code pretrains at 1e-3 and trains at 2e-3 (docs/discrete.md: at 2e-3 the pretraining's codes
    # start the clusters lower)
    pretrain_lr: float = option(0.0, "Adam learning rate of the pretraining; 0: the training's --lr", minimum=0)
    # VaDE's reference code pretrains on squared error of grey pixels (docs/discrete.md: its clusters start higher)
    pretrain_loss: str = option("likelihood", "the pretraining's loss: the model's likelihood of the training "
                                "images as trained (binarized if --binarize says so), or the squared error of the "
                                "decoder's mean to the grey pixels", choices=PRETRAIN_LOSSES)


def build(cfg: MixtureConfig, data):
    decoder = mlp([cfg.latent, *reversed(cfg.hidden), math.prod(data.image_shape)], nn.ReLU)
    return GaussianMixtureVAE(decoder, cfg.latent, cfg.clusters, cfg.likelihood_module(), cfg.learn_weights)


def encoder(cfg: MixtureConfig, image_shape, out_dim, extra_inputs=0):
    return mlp([math.prod(image_shape) + extra_inputs, *cfg.hidden, out_dim], nn.ReLU)


def code(guide, x):
    """The mean of the guide's q(z | x), read before z is drawn; refused where q(z | x) sees the cluster (a site
    drawn before z, as M2's guide draws y)."""
    site, before = site_before(guide, "z", x)
    drawn = list(latent_sites(before))
    if drawn:
        raise ValueError(f"--pretrain needs a guide whose q(z | x) does not see the cluster; this guide draws "
                         f"{', '.join(drawn)} first (try --guide vade)")
    try:
        return site["fn"].mean
    except NotImplementedError:  # a flow's, say
        raise ValueError(f"--pretrain needs the mean of the guide's q(z | x); this guide's {type(site['fn']).__name__} "
                         "has none in closed form (try --guide vade)") from None


def clusters_from_codes(cfg: PretrainingConfig, model, guide, data, seed):
    """VaDE's initialization (Jiang et al. 2017, sec. 3.4), with cfg.pretrain epochs: first an autoencoder made of
    the mean of the guide's q(z | x) and the model's decoder, trained on the model's likelihood or, as VaDE's code
    does, on squared error to the grey pixels; then the mixture set to the k-means clusters of the training images'
    codes; then SVI."""
    if not cfg.pretrain:
        return Training(data.batches)
    missing = [name for name in ("decoder", "likelihood", "num_classes", "fit_clusters") if not hasattr(model, name)]
    if missing:
        raise ValueError(f"--scheme clusters-from-codes starts a mixture from the k-means clusters of the codes, "
                         f"through the model's decoder, likelihood, num_classes and fit_clusters (a GMVAE's); this "
                         f"model has no {', '.join(missing)}")
    squared_error = cfg.pretrain_loss == "squared-error"  # on grey pixels
    code(guide, data.images["valid"][:2])  # the guide's q(z | x) must not see the cluster (2: BatchNorm's least)

    def loss(model, guide, batch):
        (x,) = batch
        outputs = model.likelihood(model.decoder(code(guide, x))).to_event(1)
        return (torch.nn.functional.mse_loss(outputs.mean, x) if squared_error else -outputs.log_prob(x).sum())

    @torch.no_grad()
    def finish(model, guide):
        codes = torch.cat([code(guide, intensities(x)) for x in data.images["train"].split(1000)])  # of intensities
        clusters = kmeans(codes.cpu(), model.num_classes, torch.Generator().manual_seed(seed))  # a CPU generator
        model.fit_clusters(codes, clusters.to(codes.device))

    return Training(data.batches, pretraining=Pretraining(
        cfg.pretrain, loss, lambda batch_size: data.batches("train", batch_size, fresh=not squared_error), finish,
        cfg.pretrain_lr or None))


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


VARIANTS = {
    "gmvae": Variant(build, "Gaussian-mixture VAE: a cluster y with a learned prior, z | y Gaussian, y summed out by "
                     "enumeration in M2's guide", MixtureConfig, "m2", encoder,
                     # a warm-up of the KL term over the first 10 epochs of 60 000 images: without it the clusters
                     # collapsed into one (clustering accuracy 0.11 after 10 epochs; with it 0.43, measured)
                     train={"elbo": "enum", "kl_anneal": 6000}),
    "vade": Variant(build, "VaDE: the Gaussian-mixture VAE with q(y | x) = p(y | z), started from a pretrained "
                    "autoencoder and the k-means clusters of its codes (Jiang et al. 2017)", VaDEConfig, "vade", encoder,
                    Scheme("clusters-from-codes", "VaDE's start: --pretrain epochs of an autoencoder, then the "
                           "mixture at the k-means clusters of its codes, then SVI", clusters_from_codes,
                           PretrainingConfig),
                    train={"elbo": "enum"}),
}
