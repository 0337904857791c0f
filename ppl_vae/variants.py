"""The table of variants: a name -> its configuration and the (model, guide) pair built from it.

The only place in ppl_vae/ that knows a variant by name. Each build function takes the variant's config and the
image shape and returns the model and the guide as torch modules (their parameters are the networks').
"""
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import torch
from pyro import poutine
from pyro.infer import Trace_ELBO
from torch import nn

from guides.bottom_up import BottomUpGuide
from guides.categorical import CategoricalGuide
from guides.conditional import ConditionalGuide
from guides.delta import DeltaGuide
from guides.empty import NoLatents
from guides.gaussian import GaussianGuide
from guides.ladder import LadderGuide
from guides.m2 import M2Guide
from guides.nvae import BottomUp, NVAEGuide
from guides.vqvae import VQGuide
from models.categorical import CategoricalVAE, OneHot
from models.completion import CompletionBaseline, CompletionCVAE
from models.cvae import CVAE
from models.hierarchical import HierarchicalVAE
from models.m2 import M2, pixels
from models.mixture import GaussianMixtureVAE
from models.nvae import NVAE, TopDown, images
from models.vae import VAE
from models.vqvae import Codebook, VQVAE
from ppl_vae.evaluate import accuracy, code_usage
from ppl_vae.nets import (Corrupted, FlatBatch, check_halvable, conv_decoder, conv_encoder, diagonal_normal,
                          init_normal_, mlp, pixelcnn)
from ppl_vae.train import Training, temperature

NETS = ("mlp", "conv")


@dataclass
class VAEConfig:
    # Defaults: the IWAE paper's one-stochastic-layer model (Burda et al. 2015, sec. 5): two deterministic layers of
    # 200 tanh units on each side, 50 latent units.
    latent: int = 50
    net: str = "mlp"  # mlp: fully connected, tanh; conv: strided convolutions / transposed convolutions, ReLU
    hidden: list[int] = field(default_factory=lambda: [200, 200])  # mlp's hidden layer sizes, encoder side first
    channels: list[int] = field(default_factory=lambda: [32, 64])  # conv's channels, each layer halving the image
    corrupt: str | None = None  # denoising: the encoder sees x corrupted by "mask:P" or "gauss:S" while training


@dataclass
class AEConfig(VAEConfig):
    code_range: float | None = None  # codes squashed into (-R, R)


def networks(cfg: VAEConfig, image_shape, code_dim):
    """The encoder (flat image -> code_dim numbers) and the decoder (latent -> pixel logits) that cfg names."""
    if cfg.net == "mlp":
        data_dim = math.prod(image_shape)
        encoder = mlp([data_dim, *reversed(cfg.hidden), code_dim])
        decoder = mlp([cfg.latent, *cfg.hidden, data_dim])
    elif cfg.net == "conv":
        encoder = conv_encoder(image_shape, cfg.channels, code_dim)
        decoder = conv_decoder(cfg.latent, cfg.channels, image_shape)
    else:
        raise ValueError(f"unknown net {cfg.net!r}; choose one of {NETS}")
    if cfg.corrupt:
        encoder = Corrupted(encoder, cfg.corrupt)
    return encoder, decoder


def build_vae(cfg: VAEConfig, image_shape):
    encoder, decoder = networks(cfg, image_shape, 2 * cfg.latent)
    return VAE(decoder, cfg.latent), GaussianGuide(encoder)


def build_ae(cfg: AEConfig, image_shape):
    encoder, decoder = networks(cfg, image_shape, cfg.latent)
    return VAE(decoder, cfg.latent), DeltaGuide(encoder, cfg.code_range)


@dataclass
class TwoLayerConfig:
    # Defaults: the IWAE paper's two-stochastic-layer network (Burda et al. 2015, sec. 5): x - 200 - 200 - z1 (100)
    # - 100 - 100 - z2 (50), tanh, the same sizes on the generative side.
    latents: list[int] = field(default_factory=lambda: [100, 50])  # z1, z2
    lower_hidden: list[int] = field(default_factory=lambda: [200, 200])  # between x and z1, encoder side first
    upper_hidden: list[int] = field(default_factory=lambda: [100, 100])  # between z1 and z2


def build_two_layer(cfg: TwoLayerConfig, image_shape):
    if len(cfg.latents) != 2:
        raise ValueError(f"--latents takes the sizes of z1 and z2, got {cfg.latents}")
    (z1, z2), lower, upper = cfg.latents, cfg.lower_hidden, cfg.upper_hidden
    data_dim = math.prod(image_shape)
    model = HierarchicalVAE(nn.ModuleList([mlp([z2, *reversed(upper), 2 * z1])]),
                            mlp([z1, *reversed(lower), data_dim]), z2)
    guide = BottomUpGuide(nn.ModuleList([mlp([data_dim, *lower, 2 * z1]), mlp([z1, *upper, 2 * z2])]))
    return model, guide


@dataclass
class LadderConfig:
    # Defaults: the Ladder VAE's MNIST network (Sønderby et al. 2016, sec. 3)
    latents: list[int] = field(default_factory=lambda: [64, 32, 16, 8, 4])  # z1 (bottom) to zL (top)
    hidden: list[int] = field(default_factory=lambda: [512, 256, 128, 64, 32])  # units of d_l, x -> z1 first
    depth: int = 2  # deterministic layers in each MLP
    batch_norm: bool = True


def build_ladder(cfg: LadderConfig, image_shape):
    """Layer l's deterministic units, cfg.hidden[l-1] of them, sit below z_l on both sides: bottom-up,
    d_(l-1) -> d_l -> q̂_l (d_0 = x); top-down, z_l -> d_l -> p(z_(l-1) | z_l) (z_0 = x)."""
    if len(cfg.hidden) != len(cfg.latents):
        raise ValueError(f"--hidden takes one size per stochastic layer ({len(cfg.latents)} for --latents "
                         f"{' '.join(map(str, cfg.latents))}), got {cfg.hidden}")
    layer = partial(mlp, activation=nn.LeakyReLU, batch_norm=cfg.batch_norm)
    data_dim = math.prod(image_shape)
    inputs = [data_dim, *cfg.hidden[:-1]]
    bottom_up = nn.ModuleList(layer([n_in, *[h] * cfg.depth], activate_last=True)
                              for n_in, h in zip(inputs, cfg.hidden))
    heads = nn.ModuleList(nn.Linear(h, 2 * z) for h, z in zip(cfg.hidden, cfg.latents))
    top_down = nn.ModuleList(layer([z, *[h] * cfg.depth, 2 * n_out])
                             for z, h, n_out in zip(cfg.latents[1:], cfg.hidden[1:], cfg.latents[:-1]))
    decoder = layer([cfg.latents[0], *[cfg.hidden[0]] * cfg.depth, data_dim])
    return HierarchicalVAE(top_down, decoder, cfg.latents[-1]), LadderGuide(bottom_up, heads, top_down)


@dataclass
class NVAEConfig:
    # Defaults: sized for a CPU (an epoch of MNIST in about a minute on 2 cores); NVAE's MNIST model is far larger
    groups: list[int] = field(default_factory=lambda: [2, 2])  # groups of latents per scale, coarsest first (7x7, 14x14)
    width: int = 32  # channels of the feature maps
    latent_channels: int = 4  # channels of each group's latent map
    cells: int = 1  # residual cells per group, in the guide's bottom-up pass and in the top-down path


def build_nvae(cfg: NVAEConfig, image_shape):
    top_down = TopDown(cfg.groups, cfg.width, cfg.latent_channels, cfg.cells, image_shape)
    posteriors = nn.ModuleList(images(nn.ELU(), nn.Conv2d(2 * cfg.width, 2 * cfg.latent_channels, 3, padding=1))
                               for _ in top_down.latent_shapes)
    return NVAE(top_down), NVAEGuide(BottomUp(cfg.groups, cfg.width, cfg.cells, image_shape), posteriors, top_down)


@dataclass
class CategoricalConfig:
    # Defaults: Jang et al.'s categorical VAE as their code has it (the notebook of github.com/ericjang/gumbel-softmax):
    # 30 variables of 10 classes, 784-512-256 ReLU encoder and its mirror, the temperature from 1 down to 0.5 as
    # exp(-3e-5 t), updated every 1000 steps (their code also decays the learning rate by 0.9 there; not done here)
    variables: int = 30
    classes: int = 10
    hidden: list[int] = field(default_factory=lambda: [512, 256])  # encoder side first
    straight_through: bool = False
    temperature: float = 1.0
    min_temperature: float = 0.5
    anneal_rate: float = 3e-5
    anneal_every: int = 1000


def build_categorical(cfg: CategoricalConfig, image_shape):
    data_dim, codes = math.prod(image_shape), cfg.variables * cfg.classes
    one_hot = OneHot(cfg.temperature, cfg.straight_through)
    encoder = mlp([data_dim, *cfg.hidden, codes], nn.ReLU)
    decoder = mlp([codes, *reversed(cfg.hidden), data_dim], nn.ReLU)
    return (CategoricalVAE(decoder, one_hot, cfg.variables, cfg.classes),
            CategoricalGuide(encoder, one_hot, cfg.variables, cfg.classes))


def annealed_temperature(cfg: CategoricalConfig, guide, data, seed):
    """SVI on the images, the relaxation's temperature set before each step by its schedule and logged each epoch."""
    def before_step(step):
        guide.one_hot.temperature = temperature(step, cfg.temperature, cfg.min_temperature, cfg.anneal_rate,
                                                cfg.anneal_every)

    return Training(data.batches, validate=lambda model, guide: {"temperature": guide.one_hot.temperature},
                    before_step=before_step)


@dataclass
class MixtureConfig:
    clusters: int = 10
    latent: int = 10
    hidden: list[int] = field(default_factory=lambda: [500, 500])  # ReLU, encoder side first
    learn_weights: bool = True  # learn the mixture weights pi (else uniform)


def build_mixture(cfg: MixtureConfig, image_shape):
    data_dim = math.prod(image_shape)
    classifier = mlp([data_dim, *cfg.hidden, cfg.clusters], nn.ReLU)
    encoder = mlp([data_dim + cfg.clusters, *cfg.hidden, 2 * cfg.latent], nn.ReLU)
    decoder = mlp([cfg.latent, *reversed(cfg.hidden), data_dim], nn.ReLU)
    return GaussianMixtureVAE(decoder, cfg.latent, cfg.clusters, cfg.learn_weights), M2Guide(classifier, encoder)


@dataclass
class VQVAEConfig:
    # Defaults: sized for MNIST on a CPU (the paper has no MNIST model): two 4x4 stride-2 convolutions to a 7x7 grid
    # of codes, as its CIFAR-10 encoder without the residual blocks
    codes: int = 64  # K, the codebook's size
    code_dim: int = 16  # D
    channels: list[int] = field(default_factory=lambda: [32, 64])
    beta: float = 0.25  # the commitment term's weight (van den Oord et al. 2017, sec. 3.2)
    ema_decay: float = 0.0  # > 0: the codebook follows moving averages with this decay (their app. A.1: 0.99)
    code_prior: str = "pixelcnn"  # the prior over the grid of codes: pixelcnn (learned alongside) or uniform
    prior_width: int = 64  # channels of the PixelCNN prior
    prior_layers: int = 5


CODE_PRIORS = ("pixelcnn", "uniform")


def build_vqvae(cfg: VQVAEConfig, image_shape):
    if cfg.code_prior not in CODE_PRIORS:
        raise ValueError(f"unknown code prior {cfg.code_prior!r}; choose one of {CODE_PRIORS}")
    grid = check_halvable(image_shape, len(cfg.channels))
    encoder, decoder = [], []
    for c_in, c_out in zip([1, *cfg.channels[:-1]], cfg.channels):
        encoder += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        decoder = [nn.ReLU(), nn.ConvTranspose2d(c_out, c_in, 4, stride=2, padding=1), *decoder]
    encoder = FlatBatch(nn.Sequential(nn.Unflatten(-1, (1, *image_shape)), *encoder,
                                      nn.Conv2d(cfg.channels[-1], cfg.code_dim, 1)))
    decoder = images(nn.Conv2d(cfg.code_dim, cfg.channels[-1], 3, padding=1), *decoder, nn.Flatten())
    codebook = Codebook(cfg.codes, cfg.code_dim, cfg.ema_decay or None)
    prior = pixelcnn(cfg.codes, cfg.prior_width, cfg.prior_layers) if cfg.code_prior == "pixelcnn" else None
    return VQVAE(decoder, codebook, grid, prior), VQGuide(encoder, codebook, cfg.beta)


def code_perplexity(cfg, guide, data, seed):
    """SVI on the images; each epoch logs how many codes the validation images use and the perplexity of their use."""
    def validate(model, guide):
        used, perplexity = code_usage(guide, data.batches("valid", 1000, False), cfg.codes)
        return {"valid_codes_used": used, "valid_perplexity": perplexity}

    return Training(data.batches, validate=validate)


@dataclass
class M2Config:
    # Defaults: Kingma et al. 2014's M2 as in Pyro's example: one hidden layer of 500 softplus units in each network,
    # 50 latent units.
    latent: int = 50
    hidden: list[int] = field(default_factory=lambda: [500])
    labelled: int = 3000  # labelled training images, as many of each class, drawn with the run's seed
    labelled_batch: int = 100  # labelled images in a labelled step
    alpha: float = 46.0  # weight of the classification term alpha log q(y | x) per labelled image (eq. 9; Pyro's 46)
    # Pyro's example draws every weight and bias from N(0, 0.001^2). At N = 100 this matters: with PyTorch's default
    # initialization validation accuracy stalled near 0.60 (the decoder learns to draw digits from z alone before the
    # classes mean anything); 0 keeps PyTorch's default.
    init_std: float = 0.001
    # steps on the labelled images alone: the classifier then learns from alpha log q(y | x) only (the labelled ELBO
    # does not involve q(y | x)), a plain supervised classifier, the baseline the unlabelled images are to improve on
    supervised_only: bool = False


@dataclass
class CVAEConfig:
    latent: int = 50
    hidden: list[int] = field(default_factory=lambda: [500])  # softplus, as M2's


def class_conditional_networks(cfg, data_dim, num_classes, outputs_per_dim=1):
    """The encoder of [x, one-hot y] -> (loc, raw scale) of z and the decoder of [z, one-hot y] -> the parameters of
    p(x | y, z): pixel logits, or (outputs_per_dim=2) a loc and a raw scale per feature."""
    encoder = mlp([data_dim + num_classes, *cfg.hidden, 2 * cfg.latent], nn.Softplus)
    decoder = mlp([cfg.latent + num_classes, *reversed(cfg.hidden), outputs_per_dim * data_dim], nn.Softplus)
    return encoder, decoder


def build_cvae(cfg: CVAEConfig, image_shape, num_classes=10):
    encoder, decoder = class_conditional_networks(cfg, math.prod(image_shape), num_classes)
    return CVAE(decoder, cfg.latent, num_classes), ConditionalGuide(encoder)


def labelled(cfg, guide, data, seed):
    """Every image comes with its label: batches of (images, one-hot labels)."""
    return Training(partial(data.batches, labels=True))


def build_m2(cfg: M2Config, image_shape, num_classes=10, likelihood=pixels):
    data_dim = math.prod(image_shape)
    encoder, decoder = class_conditional_networks(cfg, data_dim, num_classes, 2 if likelihood is diagonal_normal else 1)
    classifier = mlp([data_dim, *cfg.hidden, num_classes], nn.Softplus)
    if cfg.init_std:
        for net in (encoder, decoder, classifier):
            init_normal_(net, cfg.init_std)
    return M2(decoder, cfg.latent, num_classes, likelihood), M2Guide(classifier, encoder)


@dataclass
class M1M2Config(M2Config):
    m1: str = ""  # the run folder of a trained VAE (--model vae): M2 sees the means of its q(z1 | x) as data


def build_m1m2(cfg: M1M2Config, image_shape, num_classes=10):
    """M2 with Gaussian features: image_shape is that of the codes, (latent,)."""
    return build_m2(cfg, image_shape, num_classes, likelihood=diagonal_normal)


def semi_supervised(cfg: M2Config, guide: M2Guide, data, seed):
    """M2's training (Kingma et al. 2014, eq. 9), as Pyro's example interleaves it: an epoch is a pass over the
    unlabelled images, whose class the guide sums out, with the labelled ones (a pass of batches of
    cfg.labelled_batch) spread evenly among them; a labelled step scores the class as observed and adds alpha times
    the classifier's log-likelihood of the labels. The validation accuracy picks the epoch."""
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


@dataclass
class CompletionConfig:
    # Defaults: Pyro's CVAE tutorial, 784-500-500 ReLU networks and 200 latent units.
    quadrants: int = 1  # quadrants seen: 1 (bottom-left), 2 (left half), 3 (all but bottom-right)
    latent: int = 200
    hidden: list[int] = field(default_factory=lambda: [500, 500])


@dataclass
class BaselineConfig:
    quadrants: int = 1
    hidden: list[int] = field(default_factory=lambda: [500, 500])


def early_stopping(cfg, guide, data, seed):
    """The validation ELBO picks the epoch (best.pt), as the early stopping of Pyro's CVAE tutorial does."""
    return Training(data.batches, select="valid_elbo")


def build_completion(cfg: CompletionConfig, image_shape):
    data_dim = math.prod(image_shape)
    prior_net = mlp([data_dim, *cfg.hidden, 2 * cfg.latent], nn.ReLU)
    decoder = mlp([cfg.latent + data_dim, *cfg.hidden, data_dim], nn.ReLU)
    encoder = mlp([data_dim, *cfg.hidden, 2 * cfg.latent], nn.ReLU)  # q(z | x) sees the whole image
    return CompletionCVAE(prior_net, decoder, image_shape, cfg.quadrants), GaussianGuide(encoder)


def build_baseline(cfg: BaselineConfig, image_shape):
    data_dim = math.prod(image_shape)
    return CompletionBaseline(mlp([data_dim, *cfg.hidden, data_dim], nn.ReLU), image_shape, cfg.quadrants), NoLatents()


@dataclass(frozen=True)
class Variant:
    summary: str
    config: type
    build: Callable
    training: Callable | None = None  # (config, guide, data, seed) -> Training, where it differs from plain SVI
    train_defaults: dict = field(default_factory=dict)  # training settings the variant needs, e.g. its ELBO


VARIANTS = {
    "vae": Variant("Gaussian latent, Bernoulli pixels, mean-field Gaussian guide (Kingma & Welling 2014)",
                   VAEConfig, build_vae),
    "ae": Variant("the VAE's model with a point-mass guide: an autoencoder (MAP codes; --prior none: reconstruction "
                  "only)", AEConfig, build_ae),
    "vae2": Variant("two stochastic layers, z2 -> z1 -> x, with the bottom-up guide q(z1 | x) q(z2 | z1) (the IWAE "
                    "paper's)", TwoLayerConfig, build_two_layer,
                    # the guide is not mean-field (z2 depends on z1): analytic KLs per site would be biased
                    train_defaults={"elbo": "trace"}),
    "lvae": Variant("Ladder VAE: the same hierarchy of Gaussian layers, z_L -> ... -> z1 -> x, with a top-down guide "
                    "merging bottom-up and generative Gaussians by precision (Sønderby et al. 2016)", LadderConfig,
                    build_ladder,
                    # warm-up of the KL term over the first 20 epochs of 50 000 images (the paper's: the first 10%
                    # of training); guide and model run top-down in the same order, so the analytic KL of each layer
                    # given the layer above (TraceMeanField_ELBO) is unbiased
                    train_defaults={"kl_anneal": 10_000}),
    "nvae": Variant("a small NVAE: groups of convolutional latents drawn top-down through residual cells, the "
                    "guide relative to the prior (Vahdat & Kautz 2020)", NVAEConfig, build_nvae,
                    # warm-up of the KL term over the first 20 epochs of 50 000 images (NVAE: the first 30% of training)
                    train_defaults={"kl_anneal": 10_000}),
    "categorical": Variant("30 categorical latents of 10 classes, relaxed (Gumbel-softmax) in training with an "
                           "annealed temperature, the categorical model in evaluation (Jang et al. 2017; Maddison et "
                           "al. 2017)", CategoricalConfig, build_categorical, annealed_temperature,
                           # the relaxed densities have no closed-form KL. A warm-up of the KL term over the first
                           # 10 000 steps: without it the guide stayed near the prior (KL 0.1 nats) for the first 400
                           # steps on 10 000 images, and after 600 the ELBO was -196 against -154 with one (measured)
                           {"elbo": "trace", "kl_anneal": 10_000}),
    "gmvae": Variant("Gaussian-mixture VAE: a cluster y with a learned prior, z | y Gaussian, y summed out by "
                     "enumeration in M2's guide", MixtureConfig, build_mixture,
                     # a warm-up of the KL term over the first 10 epochs of 60 000 images: without it the clusters
                     # collapsed into one (clustering accuracy 0.11 after 10 epochs; with it 0.43, measured)
                     train_defaults={"elbo": "enum", "kl_anneal": 6000}),
    "vqvae": Variant("VQ-VAE: a grid of discrete codes, nearest-code quantization with the straight-through "
                     "gradient, a PixelCNN prior over the codes (van den Oord et al. 2017)", VQVAEConfig,
                     build_vqvae, code_perplexity,
                     # the guide's factors are sites the model lacks, which TraceMeanField_ELBO does not take
                     {"elbo": "trace"}),
    "cvae": Variant("label-conditional VAE: p(x | y, z) with q(z | x, y), y given (Sohn et al. 2015)", CVAEConfig,
                    build_cvae, labelled),
    "completion": Variant("image completion: the hidden quadrants drawn from p(x_hidden | z, x_seen), z from a prior "
                          "conditioned on the seen ones (Sohn et al. 2015)", CompletionConfig, build_completion, early_stopping),
    "completion-nn": Variant("image completion by a deterministic network, the CVAE's baseline", BaselineConfig,
                             build_baseline, early_stopping),
    "m2": Variant("semi-supervised M2: the class observed when labelled, summed out by enumeration when not "
                  "(Kingma et al. 2014)", M2Config, build_m2, semi_supervised, {"elbo": "enum"}),
    "m1m2": Variant("M1+M2: M2 on the codes (means of q(z1 | x)) of a trained VAE, --m1 RUN_DIR, with Gaussian "
                    "features (Kingma et al. 2014)", M1M2Config, build_m1m2, semi_supervised, {"elbo": "enum"}),
}
