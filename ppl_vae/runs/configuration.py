"""A run's configuration: a plain dict, written to the run folder as config.json, and the (model, guide) pair it
builds.

    variant   a named default pair (variants.py), or a user's file or module "my_pair.py:NAME" / "pkg.mod:NAME"
              that declares a pairs.Variant (or a bare build(image_shape) -> (model, guide))
    model     the pair's options (its Variant's config); guide: {"name": ..., and the guide's options}
    scheme    {"name": ..., and the scheme's options}; name None: plain SVI, or labelled steps where the model
              requires labels
    data, train, seed
A trained run's also holds what its data were (image_shape, num_classes), the versions, and for a user's pair the
file's path and SHA-256 (pair_file).
"""
import dataclasses
from dataclasses import asdict
from functools import partial
from pathlib import Path

import pyro

from ppl_vae import metrics, options, rundir
from ppl_vae.data import DataConfig
from ppl_vae.pairs import DataInfo, ModelInfo, as_module, takes_labels
from ppl_vae.schemes import LABELLED, PLAIN
from ppl_vae.text import is_text
from ppl_vae.train import TrainConfig
from ppl_vae.variants import GUIDES, SCHEMES, VARIANTS, is_user_pair, lookup, pair_source, schemes_of

DEFAULT_VARIANT = "vae"
SECTIONS = ("model", "guide", "scheme", "data", "train")  # the options of a run, each a dict in config.json
VALIDATION_BATCH = 1000  # data points per batch of the metrics logged each epoch


def fields_of(config_class):
    return asdict(config_class()) if config_class else {}


def named(table, name, what):
    if name not in table:
        raise ValueError(f"unknown --{what} {name!r}; choose one of {', '.join(table)}")
    return table[name]


def configure(variant=DEFAULT_VARIANT, guide=None, seed=0, scheme=None, **sections):
    """The configuration of a run: the variant's defaults (its options, its guide's or `guide`'s, its scheme's or
    `scheme`'s, its training and data defaults), updated by `sections` ({"train": {"epochs": 5}, "model": {...}})."""
    declared = lookup(variant)
    guide = guide or declared.guide
    if guide is not None and declared.guide is None:
        raise ValueError(f"--guide {guide}: {variant} builds its own guide")
    scheme = scheme or (declared.scheme.name if declared.scheme else None)
    scheme_class = named(schemes_of(declared), scheme, "scheme").config if scheme else None
    config = {"variant": variant, "seed": seed, "model": fields_of(declared.config),
              "guide": {"name": guide, **(fields_of(named(GUIDES, guide, "guide").config) if guide else {})},
              "scheme": {"name": scheme, **fields_of(scheme_class)},
              "data": asdict(DataConfig(**declared.data)), "train": asdict(TrainConfig(**declared.train))}
    if is_user_pair(variant):
        config["pair_file"] = pair_source(variant)
    for section, values in sections.items():
        update(config, section, values)
    return config


def config_classes():
    """Every config class whose fields are options: data, training, each variant's, each guide's, each scheme's."""
    return list(dict.fromkeys([DataConfig, TrainConfig, *(v.config for v in VARIANTS.values() if v.config),
                               *(g.config for g in GUIDES.values() if g.config),
                               *(s.config for s in SCHEMES.values() if s.config)]))


def flag(name):
    """The command-line flag of an option, by its field's name."""
    return next((options.flag_of(cls, name) for cls in config_classes() if options.flag_of(cls, name)), name)


def owners(cls):
    """Who has the options of a config class: the variants of a model config, the guides of a guide config, the
    schemes of a scheme's."""
    return ([f"--model {name}" for name, v in VARIANTS.items() if v.config is cls]
            + [f"--guide {name}" for name, g in GUIDES.items() if g.config is cls]
            + [f"--scheme {name}" for name, s in SCHEMES.items() if s.config is cls])


def update(config, section, values):
    """Set options of one section, refusing those its config class does not have, with the valid ones named."""
    if section not in SECTIONS:
        raise ValueError(f"unknown configuration section {section!r}: {', '.join(SECTIONS)}")
    unknown = sorted(set(values) - set(config[section]) - {"name"})
    if unknown:
        owner = {"model": f"--model {config['variant']}", "guide": f"--guide {config['guide']['name']}",
                 "scheme": f"--scheme {config['scheme']['name'] or 'plain'}", "data": "the data",
                 "train": "training"}[section]
        valid = ", ".join(flag(name) for name in config[section] if name != "name")
        having = [owner for cls in config_classes() if unknown[0] in cls.__dataclass_fields__ for owner in owners(cls)]
        raise ValueError(f"{', '.join(map(flag, unknown))}: not an option of {owner} (its options: {valid or 'none'})"
                         + (f"; {flag(unknown[0])} is of {' | '.join(having)}" if having else ""))
    config[section].update(values)


def variant_of(config):
    return lookup(config["variant"], config.get("pair_file"))


def section_options(config, section, config_class, what):
    """The instance of a section's config class (None for a program with no options)."""
    return options.make(config_class, config[section], what) if config_class else None


def data_info(config, data=None):
    """What the pair's builders are told of its data: from the dataset, or as a trained run recorded it (runs made
    before the classes were recorded had MNIST's 10)."""
    if data is not None:
        return DataInfo(tuple(data.image_shape), data.num_classes, "sentences" if data.item == "sentence" else "images")
    kind = "sentences" if is_text(config["data"]["dataset"]) else "images"
    return DataInfo(tuple(config["image_shape"]), config.get("num_classes", 10), kind)


def build(config, data, device):
    """The configuration's (model, guide) for data of DataInfo `data`, on `device`, their networks seeded by its
    seed: the variant's model and the named guide built for it, or the pair a user's build returns."""
    pyro.set_rng_seed(config["seed"])
    variant = variant_of(config)
    model_options = section_options(config, "model", variant.config, f"--model {config['variant']}")
    built = variant.build(model_options, data)
    guide_name = config["guide"]["name"]
    if isinstance(built, tuple):
        if len(built) != 2:
            raise ValueError(f"--model {config['variant']}: its build returned {len(built)} things; a pair is (model, "
                             "guide)")
        model, guide = as_module(built[0], "model"), as_module(built[1], "guide")
    elif guide_name is None:
        raise ValueError(f"--model {config['variant']}: its build returned a model alone; return (model, guide), or "
                         "declare its guide (Variant(guide=...))")
    else:
        model, entry = as_module(built, "model"), named(GUIDES, guide_name, "guide")
        guide_options = section_options(config, "guide", entry.config, f"--guide {guide_name}")
        try:
            guide = as_module(entry.build(guide_options, ModelInfo.of(model, model_options, data, variant.encoder)),
                              "guide")
        except ValueError as e:  # what the guide needs of the model, which this one has not
            raise ValueError(f"--guide {guide_name} cannot be built for --model {config['variant']}: {e}") from None
        if takes_labels(guide) and not takes_labels(model):
            raise ValueError(f"--guide {guide_name} reads each image's label, which --model {config['variant']} is "
                             "not given: pair it with a model that requires labels (--model cvae)")
    return model.to(device), guide.to(device)


def pair(variant=DEFAULT_VARIANT, image_shape=(28, 28), guide=None, seed=0, device="cpu", num_classes=10,
         **values):
    """A variant's (model, guide), or with `guide` another guide for its model, with options of either program (or
    of its scheme) by name: pair("ae", (784,), latent=3, code_range=1)."""
    config = configure(variant, guide, seed)
    for name, value in values.items():
        section = next((s for s in ("model", "guide", "scheme") if name in config[s] and name != "name"), None)
        if section is None:
            raise ValueError(f"{name}: not an option of the {describe(config)} pair's model, guide or scheme")
        config[section][name] = value
    return build(config, DataInfo(tuple(image_shape), num_classes, lookup(variant).takes), device)


def scheme_of(config, model):
    """The run's scheme: the one named, else labelled steps for a model that requires labels, else plain SVI."""
    name = config["scheme"]["name"]
    return schemes_of(variant_of(config))[name] if name else LABELLED if takes_labels(model) else PLAIN


def training_of(config, model, guide, data):
    """How the run's pair trains (and batches its evaluation splits), train.Training: its scheme's, whose
    validation adds what the pair's traces call for (metrics.split_metrics) and the pair's own metrics."""
    scheme = scheme_of(config, model)
    training = scheme.training(section_options(config, "scheme", scheme.config, f"--scheme {scheme.name}"), model,
                               guide, data, config["seed"])
    own, declared = training.validate, variant_of(config).metrics

    def validate(model, guide):
        measured = own(model, guide) if own else {}
        return {**metrics.split_metrics(model, guide, partial(training.batches, "valid", VALIDATION_BATCH, False),
                                        data.images["valid"], data.labels["valid"], "valid", declared, measured),
                **measured}

    return dataclasses.replace(training, validate=validate)


def upgrade(config):
    """A configuration written by an earlier version: before models and guides were named apart (its guide is the
    variant's, and the old variant's options split between model and guide), before schemes had options of their
    own (the variant's scheme takes its options out of the model's), before --codes-of was a data option (M1+M2's
    --m1, --active, --sampled)."""
    missing = [key for key in ("variant", "seed", "model", "data", "train")
               if not isinstance(config, dict) or key not in config]
    if missing:
        raise ValueError(f"not a run's configuration: it has no {', '.join(map(repr, missing))}")
    if "guide" in config and "scheme" in config:
        return config
    if is_user_pair(config["variant"]):
        return {**config, "scheme": {"name": None}}
    variant, old = lookup(config["variant"]), config["model"]
    guide = config.get("guide") or {"name": variant.guide, **{k: old.get(k, v) for k, v in
                                                               fields_of(GUIDES[variant.guide].config).items()}}
    fields = fields_of(variant.scheme.config) if variant.scheme else {}
    scheme = {"name": variant.scheme.name if variant.scheme else None, **{k: old.get(k, v) for k, v in fields.items()}}
    data = {**config["data"], **({"codes_of": old["m1"], "active_units": old["active"], "sampled_codes": old["sampled"]}
                                 if "m1" in old else {})}
    model = {k: v for k, v in old.items() if k in fields_of(variant.config)}
    return {**config, "model": model, "guide": guide, "scheme": scheme, "data": data}


def describe(config):
    """The pair as a title names it: the variant, and its guide where that is not the variant's own."""
    variant, guide = config["variant"], config["guide"]["name"]
    if is_user_pair(variant) or guide == VARIANTS[variant].guide:
        return variant
    return f"{variant} + {guide} guide"


def load_config(run_dir):
    return upgrade(rundir.read_json(Path(run_dir) / rundir.CONFIG))
