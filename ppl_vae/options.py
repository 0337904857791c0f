"""Options have one home: the fields of the config dataclasses, which carry their own help text; the command line's
flags are made from them (`add_flags`), never restated in a table.

    epochs: int = option(10, "epochs in all", minimum=1)

A field's flag is --its-name, unless `flag` says otherwise; its type and default come from the field: a bool that
defaults to False is a switch (--straight-through), one that defaults to True a switch that turns it off (its `flag`,
e.g. --no-batch-norm); a list of ints takes one or more numbers; `choices`, `minimum` and `above` are checked by
argparse, and a float must be finite.
"""
import argparse
import math
import dataclasses
import typing
from dataclasses import field


def option(default, help, *, flag=None, choices=None, minimum=None, above=None):
    """A dataclass field with its command-line help; a list default is copied for each instance. `minimum`: the
    least value a number may take; `above`: a value a number must exceed. Floats must be finite."""
    metadata = {"help": help, "flag": flag, "choices": choices, "minimum": minimum, "above": above}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def fields(config_class):
    """(flag, field name, field, resolved type) for each field of a config class that has help text."""
    hints = typing.get_type_hints(config_class)
    for f in dataclasses.fields(config_class):
        if "help" in f.metadata:
            yield f.metadata["flag"] or "--" + f.name.replace("_", "-"), f.name, f, hints[f.name]


def flag_of(config_class, name):
    """The command-line flag of a field of a config class (None: the class, if any, has no such field)."""
    return next((flag for flag, field_name, _, _ in fields(config_class) if field_name == name), None) \
        if config_class else None


def at_least(minimum):
    def integer(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text}")
        return value
    return integer


def real(minimum=None, above=None):
    """A parser of finite floats, at least `minimum` and more than `above` where they are given."""
    def number(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be > {above}, got {text}")
        return value
    return number


def scalar_type(hint):
    """int, float or str from a field's type, `X | None` read as X."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def default_of(f):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def add_flags(parser, section, config_classes, owners):
    """Add the flags of the fields of `config_classes` (one section of the configuration: model, guide, data, train)
    to `parser`, each parsed into the destination "section.field" and absent from the result unless given. A field
    name that several classes share (each model's --latent) is one flag, its help naming who has it; `owners(cls)`
    names the users of a class (the variants, say) for that help."""
    flags = {}
    for cls in config_classes:
        for flag, name, f, hint in fields(cls):
            entry = flags.setdefault(flag, {"name": name, "field": f, "hint": hint, "helps": {}})
            if entry["name"] != name:
                raise ValueError(f"{flag} names two fields, {entry['name']} and {name}; give one a `flag`")
            entry["helps"].setdefault(f.metadata["help"], []).append((cls, default_of(f)))
    for flag, entry in flags.items():
        f, hint = entry["field"], entry["hint"]
        helps = []
        for text, users in entry["helps"].items():
            defaults = sorted({str(d) for _, d in users})
            who = ", ".join(name for cls, _ in users for name in owners(cls))
            default = f" (default {' / '.join(defaults)})" if defaults != ["None"] else ""
            helps.append(f"{text}{default}" + (f" [{who}]" if who else ""))
        kwargs = {"dest": f"{section}.{entry['name']}", "default": argparse.SUPPRESS, "help": "; ".join(helps)}
        if hint is bool:
            kwargs["action"] = "store_false" if default_of(f) else "store_true"
        else:
            kind = scalar_type(typing.get_args(hint)[0] if typing.get_origin(hint) is list else hint)
            minimum = f.metadata["minimum"]
            if kind is float:
                kwargs["type"] = real(minimum, f.metadata["above"])
            else:
                kwargs["type"] = at_least(minimum) if kind is int and minimum is not None else kind
            if typing.get_origin(hint) is list:
                kwargs["nargs"] = "+"
            if f.metadata["choices"]:
                kwargs["choices"] = list(f.metadata["choices"])
            else:
                kwargs["metavar"] = entry["name"].upper()
        parser.add_argument(flag, **kwargs)
