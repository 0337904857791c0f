"""The door every pair comes through, a built-in family's or a user's file: what it declares (`Variant`, `Guide`,
`Scheme`), what its builders are told (`DataInfo`, `ModelInfo`), and what the machinery reads of its programs from
their traces alone (the observed site, the class site, whether the model takes labels).

A family file in models/ declares its variants, a file of guides/ its guides, and a user's pair file the same
`Variant` (docs/pairs.md): each field optional but the builder.
"""
import inspect
import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from pyro import poutine
from pyro.poutine.util import site_is_subsample
from torch import nn

from ppl_vae.nets import mlp
from ppl_vae.objectives import OBJECTIVES

KINDS = ("images", "sentences")  # what a pair's programs read


@dataclass(frozen=True)
class Scheme:
    """How a pair trains, where not plain SVI on batches of images: `training(options, model, guide, data, seed)`
    returns a train.Training; `config`, the scheme's own options (a dataclass of ppl_vae.options fields)."""
    name: str
    summary: str
    training: Callable
    config: type | None = None


@dataclass(frozen=True)
class Variant:
    """A named default pair, as a family file or a user's pair file declares it.

    build     (options, DataInfo) -> the model, or the (model, guide) pair; options: an instance of `config`
    config    the pair's options: a dataclass whose fields (ppl_vae.options.option) become flags, saved in config.json
    guide     the name of its default guide (variants.GUIDES) when build returns the model alone
    encoder   (options, image shape, out_dim, extra_inputs=0, **kwargs) -> the network that mirrors the decoder, for
              the guides that need one (default: 200 - 200 tanh units); kwargs a family's own, e.g. `layer`
    scheme    how it trains (default: labelled when the model requires labels, else plain SVI)
    train     training defaults (its objective, KL warm-up, ...), data: data defaults (its dataset, ...)
    takes     what the programs read: images (with labels, where the model asks for them) or sentences
    metrics   (model, guide, images, labels) -> {name: number}: its own numbers, logged each epoch on the validation
              images and reported by evaluate on the test images
    pictures  (model, guide, data) -> {file name: matplotlib figure}, written into the run folder after training
    """
    build: Callable
    summary: str = ""
    config: type | None = None
    guide: str | None = None
    encoder: Callable | None = None
    scheme: Scheme | None = None
    train: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    takes: str = "images"
    metrics: Callable | None = None
    pictures: Callable | None = None

    def __post_init__(self):
        if self.takes not in KINDS:
            raise ValueError(f"Variant(takes={self.takes!r}): one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class Guide:
    """A guide as a file of guides/ declares it: `build(options, ModelInfo)` -> the guide; `config`, its options."""
    summary: str
    build: Callable
    config: type | None = None


@dataclass(frozen=True)
class DataInfo:
    """What a model's builder is told of its data: the shape of a data point (H x W of an image; a sentence's
    longest length x the vocabulary), the number of classes of the labels (0: none), what a data point is."""
    image_shape: tuple
    num_classes: int = 0
    kind: str = "images"

    def blank(self, n=1, device="cpu", labels=False):
        """n blank data points as a program takes them (a blank image, or an empty sentence), and with labels,
        class 0 one-hot: what a program's prior is traced on."""
        if self.kind == "sentences":
            x = torch.zeros(n, 1, dtype=torch.long, device=device)  # <pad> alone
        else:
            x = torch.zeros(n, math.prod(self.image_shape), device=device)
        if not labels:
            return (x,)
        return x, torch.zeros(n, max(self.num_classes, 1), device=device).index_fill_(1, torch.tensor([0]), 1.0)


def plain_encoder(options, image_shape, out_dim, extra_inputs=0):
    """The encoder of a model that declares none: [flat image, extra inputs] -> 200 - 200 tanh units -> out_dim."""
    return mlp([math.prod(image_shape) + extra_inputs, 200, 200, out_dim], nn.Tanh)


@dataclass
class ModelInfo:
    """What a guide's builder is told of the model it is built for, and all it may read of it.

    latents      name -> distribution of the model's latent sites, from a trace of its prior
    num_classes  the classes of the labels the model is given (0: none)
    image_shape  the shape of a data point
    encoder      (out_dim, extra_inputs=0, **kwargs) -> the network that mirrors the model's decoder, from a flat data
                 point and `extra_inputs` more numbers (a one-hot class, say) to out_dim numbers
    shared       name -> what the model lends its guides, a module or a function of it (its `shared()`: the Ladder
                 VAE's top-down path, the VQ-VAE's codebook, the mixture's p(y | z), ...)
    """
    latents: dict
    num_classes: int
    image_shape: tuple
    encoder: Callable
    shared: dict

    @classmethod
    def of(cls, model, options, data: DataInfo, encoder=None):
        """The ModelInfo of `model` (built with `options` for `data`), its prior traced in eval mode (no batch
        statistics of a blank image, no dropout), its mirrored encoder the variant's `encoder`."""
        blank = data.blank(1, device_of(model), labels=takes_labels(model))
        training = model.training
        model.eval()
        try:
            with torch.no_grad(), poutine.block():
                trace = poutine.trace(model).get_trace(*blank)
        finally:
            model.train(training)
        shared = model.shared() if hasattr(model, "shared") else {}
        mirror = encoder or plain_encoder
        takes = inspect.signature(mirror).parameters

        def mirrored(out_dim, extra_inputs=0, **kwargs):
            unknown = [name for name in kwargs if name not in takes]
            if unknown:
                raise ValueError(f"this guide needs the model's encoder by {unknown[0]} ({unknown[0]}=...), which "
                                 "this model's encoder does not take")
            return mirror(options, tuple(data.image_shape), out_dim, extra_inputs, **kwargs)

        return cls(latent_sites(trace), data.num_classes, tuple(data.image_shape), mirrored, shared)

    def latent(self, site="z"):
        """The distribution at the model's latent site `site`; one clear line where the model has no such site."""
        if site not in self.latents:
            raise ValueError(f"this guide infers a latent site {site!r}; the model's latent sites are "
                             f"{', '.join(self.latents) or 'none'}")
        return self.latents[site]

    def layers(self):
        """The sizes of the layers z1, z2, ... of a hierarchy, bottom first; one clear line where there are none."""
        sizes = []
        while f"z{len(sizes) + 1}" in self.latents:
            sizes.append(self.latents[f"z{len(sizes) + 1}"].event_shape[0])
        if not sizes:
            raise ValueError(f"this guide infers the layers z1, z2, ... of a hierarchy; the model's latent sites are "
                             f"{', '.join(self.latents) or 'none'}")
        return sizes

    def share(self, name):
        if name not in self.shared:
            raise ValueError(f"this guide reads the model's {name!r}, which the model does not share (it shares "
                             f"{', '.join(self.shared) or 'nothing'})")
        return self.shared[name]


class Program(nn.Module):
    """A model or a guide given as a bound method of a module (Pyro's examples/vae: vae.model, vae.guide) or as a plain
    function with pyro.module inside, as a module: its parameters, its moves to a device, train and eval, and its
    state are those of the modules it runs."""

    def __init__(self, function, modules):
        super().__init__()
        self.function = function
        self.runs = nn.ModuleList(modules)

    def forward(self, *args, **kwargs):
        return self.function(*args, **kwargs)


def as_module(program, what):
    """A program as an nn.Module: a module itself; a bound method of a module; or a plain function, with the modules
    it names (its globals and closure) as its own. `what` names it in a refusal."""
    if isinstance(program, nn.Module):
        return program
    if inspect.ismethod(program) and isinstance(program.__self__, nn.Module):
        return Program(program, [program.__self__])
    if inspect.isfunction(program):
        names = program.__code__.co_names
        found = [program.__globals__[name] for name in names if isinstance(program.__globals__.get(name), nn.Module)]
        found += [cell.cell_contents for cell in program.__closure__ or () if isinstance(cell.cell_contents, nn.Module)]
        return Program(program, list({id(m): m for m in found}.values()))
    raise ValueError(f"the {what} is a {type(program).__name__}; a pair's programs are modules, bound methods of a "
                     "module, or functions")


def signature_of(program):
    return inspect.signature(program.function if isinstance(program, Program) else program.forward)


def positional(program):
    """The program's positional parameters: (how many it requires, how many it accepts; inf for *args)."""
    every = signature_of(program).parameters.values()
    parameters = [p for p in every if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    accepted = math.inf if any(p.kind == p.VAR_POSITIONAL for p in every) else len(parameters)
    return sum(p.default is p.empty for p in parameters), accepted


def takes_labels(program):
    """Whether the program requires a second argument, the labels: a conditional model, and its guide."""
    return positional(program)[0] > 1


def device_of(module):
    return next((p.device for p in module.parameters()), torch.device("cpu"))


def latent_sites(trace):
    """name -> distribution of the unobserved sample sites of a trace."""
    return {name: site["fn"] for name, site in trace.nodes.items()
            if site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site)}


def observed_site(trace, x):
    """The name of the model's site that observes the data points `x`, whatever it is named: the observed site
    holding x's values (reshaped, say), else the last observed site."""
    observed = [name for name, site in trace.nodes.items() if site["type"] == "sample" and site["is_observed"]]
    if not observed:
        raise ValueError("the model observes nothing: its data site needs obs=x")
    flat = x.reshape(len(x), -1)
    for name in observed:
        value = trace.nodes[name]["value"]
        if value is x or value.numel() == x.numel() and torch.equal(value.reshape(flat.shape), flat):
            return name
    return observed[-1]


def class_site(model, x):
    """(name, number of classes) of the model's latent site that its optional second argument y conditions (M2's
    class, a mixture's cluster), found from traces: the one-hot site that, given its own draw as y, is observed;
    None where the model takes no y or has no such site."""
    if positional(model)[1] < 2 or takes_labels(model):
        return None
    with torch.no_grad(), poutine.block():
        trace = poutine.trace(model).get_trace(x)
        for name, fn in latent_sites(trace).items():
            if len(fn.event_shape) == 1 and fn.support.is_discrete and trace.nodes[name]["value"].shape[-1] > 1:
                again = poutine.trace(model).get_trace(x, trace.nodes[name]["value"])
                if again.nodes[name]["is_observed"]:
                    return name, fn.event_shape[-1]
    return None


def site_summary(fn):
    """A latent site as a line names it: its event shape and support."""
    return f"event shape {tuple(fn.event_shape)}, support {fn.support}"


def check_pair(model, guide, batch):
    """One clear line (a ValueError) when the guide does not fit the model on `batch` (a tuple of the programs'
    arguments): every latent site of the guide must be a latent site of the model with the same event shape and
    support (the guide's draws lie in the model's support), and every latent site of the model must be drawn by the
    guide, except those the model enumerates."""
    with torch.no_grad(), poutine.block():
        guide_trace = poutine.trace(guide).get_trace(*batch)
        model_trace = poutine.trace(model).get_trace(*batch)  # from its prior: a mismatched guide's values may not fit
    guide_sites, model_sites = latent_sites(guide_trace), latent_sites(model_trace)
    model_only = [name for name in model_sites if name not in guide_sites
                  and model_trace.nodes[name]["infer"].get("enumerate") != "parallel"]
    guide_only = [name for name in guide_sites if name not in model_trace.nodes]
    if model_only or guide_only:
        raise ValueError(f"the guide does not fit the model: the model's latent sites are "
                         f"{', '.join(model_sites) or 'none'}, the guide's {', '.join(guide_sites) or 'none'}")
    for name, fn in guide_sites.items():
        other, value = model_trace.nodes[name]["fn"], guide_trace.nodes[name]["value"]
        # the support is checked on the guide's draw: a point mass (Delta) is a density on the reals, whatever it holds
        if fn.event_shape != other.event_shape or not other.support.check(value).all():
            raise ValueError(f"the guide does not fit the model at site {name!r}: the model's has {site_summary(other)}, "
                             f"the guide's {site_summary(fn)}" + ("" if fn.event_shape != other.event_shape else
                                                              ", and its draws lie outside the model's support"))


def check_objectives(guide, batch, objectives):
    """One clear line (a ValueError) when the guide is not one that each of `objectives`, {flag: objective name}, can
    train (what its entry needs of the guide's trace on `batch`, in training and in evaluation)."""
    training = guide.training
    try:
        for mode in (True, False):  # the guide that trains, and the one that the validation ELBO reads each epoch
            guide.train(mode)
            with torch.no_grad(), poutine.block():
                guide_trace = poutine.trace(guide).get_trace(*batch)
            for flag, name in objectives.items():
                why = OBJECTIVES[name].needs(guide_trace) if OBJECTIVES[name].needs else None
                if why:
                    raise ValueError(f"{flag} {name} {why}" + ("" if mode else " (in evaluation)"))
    finally:
        guide.train(training)
