"""The table: the model programs and the guides by name, and the variants, named default pairs of the two.

The only place in ppl_vae/ that knows a variant by name. A model's entry is its config class, its builder
(config, image shape) -> model, the encoder that mirrors its decoder (for the guides that need one), and its
training scheme where it is not plain SVI; a guide's entry is its config class and its builder (config, ModelInfo)
-> guide. Configs and builders live beside the programs, in models/ and guides/.
"""
import math
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ppl_vae import schemes
from ppl_vae.guides import (bottom_up, categorical as categorical_guide, conditional, delta, dip_vae, empty,
                            factor_vae, flow, fullcov, gaussian, ladder, m2 as m2_guide, nvae as nvae_guide, vade, vqvae as vq_guide)
from ppl_vae.models import (categorical, completion, cvae, hierarchical, m2, mixture, nvae, sentence_vae, vae,
                            vqvae)
from ppl_vae.nets import mlp


def plain_encoder(cfg, image_shape, out_dim, extra_inputs=0):
    """The encoder of a model that declares none: 200 - 200 tanh units."""
    return mlp([math.prod(image_shape) + extra_inputs, 200, 200, out_dim], nn.Tanh)


@dataclass(frozen=True)
class Model:
    config: type
    build: Callable
    encoder: Callable = plain_encoder
    training: Callable | None = None  # (config, model, guide, data, seed) -> train.Training, where not plain SVI


@dataclass(frozen=True)
class Guide:
    summary: str
    build: Callable
    config: type | None = None  # None: no options


@dataclass(frozen=True)
class Variant:
    summary: str
    model: Model
    guide: str  # its default guide, a name in GUIDES
    train_defaults: dict = field(default_factory=dict)  # training settings the variant needs, e.g. its ELBO
    data_defaults: dict = field(default_factory=dict)  # its data where not MNIST's images


GUIDES = {
    "gaussian": Guide("mean-field Gaussian q(z | x) from an encoder", gaussian.build, gaussian.EncoderConfig),
    "delta": Guide("a point mass at the encoder's code: the model becomes an autoencoder (MAP codes)", delta.build,
                   delta.DeltaConfig),
    "factor-vae": Guide("FactorVAE's: mean-field Gaussian q(z | x), and while training its total correlation penalized by "
                        "a discriminator trained alongside (Kim & Mnih 2018)", factor_vae.build,
                        factor_vae.FactorVAEConfig),
    "dip-vae": Guide("DIP-VAE's: mean-field Gaussian q(z | x), and while training the covariance of q(z) (-I: of the "
                     "encoder's means) pulled towards the identity (Kumar et al. 2018)", dip_vae.build,
                     dip_vae.DIPVAEConfig),
    "fullcov": Guide("full-covariance Gaussian q(z | x): the encoder gives the loc and a Cholesky factor",
                     fullcov.build, gaussian.EncoderConfig),
    "flow": Guide("a Gaussian pushed through inverse autoregressive flows conditioned on x (Kingma et al. 2016)",
                  flow.build, flow.FlowConfig),
    "bottom-up": Guide("q(z1 | x) q(z2 | z1), the IWAE paper's two-layer guide", bottom_up.build),
    "ladder": Guide("the Ladder VAE's top-down guide, merging bottom-up and generative Gaussians by precision",
                    ladder.build),
    "nvae": Guide("NVAE's guide: groups drawn top-down through the model's path, each relative to its prior",
                  nvae_guide.build),
    "categorical": Guide("categorical q(z_i | x), relaxed while training", categorical_guide.build),
    "conditional": Guide("q(z | x, y) for a model with given classes", conditional.build),
    "m2": Guide("a classifier q(y | x), enumerated, and q(z | x, y)", m2_guide.build),
    "vade": Guide("VaDE's: q(z | x) from an encoder that does not see the cluster, q(y | x) the mixture's own p(y | z), "
                  "enumerated", vade.build),
    "vq": Guide("the nearest code, straight-through, with the codebook and commitment terms", vq_guide.build,
                vq_guide.VQGuideConfig),
    "none": Guide("nothing latent: the ELBO is the model's log-likelihood", empty.build),
}

VAE_MODEL = Model(vae.VAEConfig, vae.build, vae.encoder)
SENTENCE_MODEL = Model(sentence_vae.SentenceVAEConfig, sentence_vae.build, sentence_vae.encoder)
LANGUAGE_MODEL = Model(sentence_vae.LanguageModelConfig, sentence_vae.build, sentence_vae.encoder)
# Sentences: the Penn Treebank, batches of 32 sentences; the VAE's KL weight rises along Bowman et al.'s sigmoid over
# the first 10 000 steps (about 8 epochs)
TEXT = {"data_defaults": {"dataset": "ptb"}, "train_defaults": {"batch_size": 32}}
ANNEALED_TEXT = {**TEXT, "train_defaults": {**TEXT["train_defaults"], "kl_anneal": 10_000, "kl_schedule": "sigmoid"}}
TWO_LAYER = Model(hierarchical.TwoLayerConfig, hierarchical.build_two_layer)
LADDER = Model(hierarchical.LadderConfig, hierarchical.build_ladder)
COMPLETION_SCHEME = dict(encoder=completion.encoder, training=schemes.early_stopping)

VARIANTS = {
    "vae": Variant("Gaussian latent, Bernoulli pixels, mean-field Gaussian guide (Kingma & Welling 2014)", VAE_MODEL,
                   "gaussian"),
    "ae": Variant("the VAE's model with a point-mass guide: an autoencoder (MAP codes; --prior none: reconstruction "
                  "only)", VAE_MODEL, "delta"),
    "vae2": Variant("two stochastic layers, z2 -> z1 -> x, with the bottom-up guide q(z1 | x) q(z2 | z1) (the IWAE "
                    "paper's)", TWO_LAYER, "bottom-up",
                    # the guide is not mean-field (z2 depends on z1): analytic KLs per site would be biased
                    {"elbo": "trace"}),
    "lvae": Variant("Ladder VAE: the same hierarchy of Gaussian layers, z_L -> ... -> z1 -> x, with a top-down guide "
                    "merging bottom-up and generative Gaussians by precision (Sønderby et al. 2016)", LADDER, "ladder",
                    # warm-up of the KL term over the first 20 epochs of 50 000 images (the paper's: the first 10%
                    # of training); guide and model run top-down in the same order, so the analytic KL of each layer
                    # given the layer above (TraceMeanField_ELBO) is unbiased
                    {"kl_anneal": 10_000}),
    "nvae": Variant("a small NVAE: groups of convolutional latents drawn top-down through residual cells, the "
                    "guide relative to the prior (Vahdat & Kautz 2020)", Model(nvae.NVAEConfig, nvae.build), "nvae",
                    # warm-up of the KL term over the first 20 epochs of 50 000 images (NVAE: the first 30% of training)
                    {"kl_anneal": 10_000}),
    "categorical": Variant("30 categorical latents of 10 classes, relaxed (Gumbel-softmax) in training with an "
                           "annealed temperature, the categorical model in evaluation (Jang et al. 2017; Maddison et "
                           "al. 2017)",
                           Model(categorical.CategoricalConfig, categorical.build, categorical.encoder,
                                 schemes.annealed_temperature), "categorical",
                           # the relaxed densities have no closed-form KL. A warm-up of the KL term over the first
                           # 10 000 steps: without it the guide stayed near the prior (KL 0.1 nats) for the first 400
                           # steps on 10 000 images, and after 600 the ELBO was -196 against -154 with one (measured)
                           {"elbo": "trace", "kl_anneal": 10_000}),
    "gmvae": Variant("Gaussian-mixture VAE: a cluster y with a learned prior, z | y Gaussian, y summed out by "
                     "enumeration in M2's guide", Model(mixture.MixtureConfig, mixture.build, mixture.encoder,
                                                        schemes.mixture_from_codes), "m2",
                     # a warm-up of the KL term over the first 10 epochs of 60 000 images: without it the clusters
                     # collapsed into one (clustering accuracy 0.11 after 10 epochs; with it 0.43, measured)
                     {"elbo": "enum", "kl_anneal": 6000}),
    "vade": Variant("VaDE: the Gaussian-mixture VAE with q(y | x) = p(y | z), started from a pretrained autoencoder "
                    "and the k-means clusters of its codes (Jiang et al. 2017)",
                    Model(mixture.VaDEConfig, mixture.build, mixture.encoder, schemes.mixture_from_codes), "vade",
                    {"elbo": "enum"}),
    "vqvae": Variant("VQ-VAE: a grid of discrete codes, nearest-code quantization with the straight-through "
                     "gradient, a PixelCNN prior over the codes (van den Oord et al. 2017)",
                     Model(vqvae.VQVAEConfig, vqvae.build, vqvae.encoder, schemes.code_perplexity), "vq",
                     # the guide's factors are sites the model lacks, which TraceMeanField_ELBO does not take
                     {"elbo": "trace"}),
    "cvae": Variant("label-conditional VAE: p(x | y, z) with q(z | x, y), y given (Sohn et al. 2015)",
                    Model(cvae.CVAEConfig, cvae.build, cvae.encoder, schemes.labelled), "conditional"),
    "completion": Variant("image completion: the hidden quadrants drawn from p(x_hidden | z, x_seen), z from a prior "
                          "conditioned on the seen ones (Sohn et al. 2015)",
                          Model(completion.CompletionConfig, completion.build, **COMPLETION_SCHEME), "gaussian"),
    "completion-nn": Variant("image completion by a deterministic network, the CVAE's baseline",
                             Model(completion.BaselineConfig, completion.build_baseline, **COMPLETION_SCHEME), "none"),
    "m2": Variant("semi-supervised M2: the class observed when labelled, summed out by enumeration when not "
                  "(Kingma et al. 2014)", Model(m2.M2Config, m2.build, m2.encoder, schemes.semi_supervised), "m2",
                  {"elbo": "enum"}),
    "m1m2": Variant("M1+M2: M2 on the codes (means of q(z1 | x)) of a trained VAE, --m1 RUN_DIR, with Gaussian "
                    "features (Kingma et al. 2014)",
                    Model(m2.M1M2Config, m2.build_m1m2, m2.encoder, schemes.semi_supervised), "m2", {"elbo": "enum"}),
    "sentence-vae": Variant("sentences (the Penn Treebank): an LSTM language model conditioned on z, read by a "
                            "bidirectional LSTM encoder, with KL annealing and word dropout (Bowman et al. 2016)",
                            SENTENCE_MODEL, "gaussian", **ANNEALED_TEXT),
    "sentence-ae": Variant("the sentence VAE's model with a point-mass guide: a sequence autoencoder (Bowman et al.'s "
                           "contrast)", SENTENCE_MODEL, "delta", **TEXT),
    "lstm-lm": Variant("the LSTM language model alone, no z: the sentence VAE's baseline (Bowman et al.'s Table 2)",
                       LANGUAGE_MODEL, "none", **TEXT),
}
