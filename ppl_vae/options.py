"""Options have one home: the fields of the config dataclasses, which carry their own help text and bounds; the
command line's flags are made from them (`add_flags`), and every value, from a flag, a config.json or Python, is
checked against them in one place (`check_value`).

    epochs: int = option(10, "epochs in all", minimum=1, resumable=True)

A field's flag is --its-name, unless `flag` says otherwise (a name, or several: ("-o", "--output")); its type and
default come from the field: a bool that defaults to False is a switch (--straight-through), one that defaults to
True a switch that turns it off (its `flag`, e.g. --no-batch-norm); a list takes one or more values. `choices`,
`minimum`, `maximum` and `above` bound the values, and a float must be finite. `resumable`: a run may be resumed
with another value (train --resume).

A config class that inherits `Options` checks its fields whenever an instance is made; `make` builds any config
class, a user's plain dataclass too, from a section of a configuration and checks it.
"""
import argparse
import dataclasses
import math
import typing
from dataclasses import field


def option(default, help, *, flag=None, choices=None, minimum=None, maximum=None, above=None, metavar=None,
           resumable=False, objective=None):
    """A dataclass field with its command-line help; a list default is copied for each instance. `minimum`,
    `maximum`: the least and greatest value a number may take; `above`: a value a number must exceed. `objective`:
    the training objective this option belongs to (train.OBJECTIVES), refused with another unless at its default."""
    metadata = {"help": help, "flag": flag, "choices": choices, "minimum": minimum, "maximum": maximum,
                "above": above, "metavar": metavar, "resumable": resumable, "objective": objective}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def fields(config_class):
    """(flags, field name, field, resolved type) for each field of a config class that has help text; flags is a
    tuple of the field's flag names, its main one (primary) first among the long ones."""
    hints = typing.get_type_hints(config_class)
    for f in dataclasses.fields(config_class):
        if "help" in f.metadata:
            flag = f.metadata["flag"] or "--" + f.name.replace("_", "-")
            yield (flag,) if isinstance(flag, str) else tuple(flag), f.name, f, hints[f.name]


def flag_of(config_class, name):
    """The command-line flag of a field of a config class (None: the class, if any, has no such field)."""
    return next((primary(flags) for flags, field_name, _, _ in fields(config_class) if field_name == name), None) \
        if config_class else None


def primary(flags):
    """The flag that names an option in messages: its first long flag, else its only one."""
    return next((flag for flag in flags if flag.startswith("--")), flags[0])


def without_none(hint):
    """A field's type, `X | None` read as X."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if type(None) in typing.get_args(hint) else hint


def is_list(hint):
    return typing.get_origin(without_none(hint)) is list


def scalar_type(hint):
    """int, float, str or bool from a field's type, `X | None` and `list[X]` read as X."""
    hint = without_none(hint)
    return typing.get_args(hint)[0] if typing.get_origin(hint) is list else hint


def default_of(f):
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def shown(value):
    return f"{value:g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)


def problem(f, hint, value, choices=True):
    """What is wrong with an option's value for its field (its type, choices and bounds), or None; lists are checked
    item by item, and None passes where the type allows it."""
    if value is None and type(None) in typing.get_args(hint):
        return None
    listed = is_list(hint)
    if listed and not isinstance(value, list):
        return "must be a list of values"
    kind, meta = scalar_type(hint), f.metadata
    for item in value if listed else [value]:
        if kind is bool and not isinstance(item, bool) or kind is str and not isinstance(item, str):
            return f"must be a {kind.__name__}"
        if kind in (int, float):
            number = "an integer" if kind is int else "a number"
            if isinstance(item, bool) or not isinstance(item, int if kind is int else (int, float)):
                return f"must be {number}"
            if not math.isfinite(item):
                return "must be a finite number"
            if meta["minimum"] is not None and item < meta["minimum"]:
                return f"must be {'an integer ' if kind is int else ''}>= {meta['minimum']}"
            if meta["maximum"] is not None and item > meta["maximum"]:
                return f"must be <= {meta['maximum']}"
            if meta["above"] is not None and item <= meta["above"]:
                return f"must be > {meta['above']}"
        if choices and meta["choices"] and item not in meta["choices"]:
            return f"choose one of {', '.join(map(str, meta['choices']))}"
    return None


def check_value(flag, f, hint, value):
    """The one check of an option's value against its field: a ValueError of one line naming the flag."""
    wrong = problem(f, hint, value)
    if wrong:
        raise ValueError(f"{flag} {shown(value)}: {wrong}")


def check(config):
    """Every option of a config instance against its field (check_value)."""
    for flags, name, f, hint in fields(type(config)):
        check_value(primary(flags), f, hint, getattr(config, name))


class Options:
    """The base of the project's config classes: an instance checks its options as it is made."""

    def __post_init__(self):
        check(self)


def make(config_class, values, what):
    """An instance of a config class from a section's values, checked; unknown names refused with the valid ones
    named. `what` names the section's owner for messages ("training", "--guide flow")."""
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - names - {"name"})
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not an option of {what} (its options: {', '.join(sorted(names))})")
    config = config_class(**{k: v for k, v in values.items() if k in names})
    if not isinstance(config, Options):  # a user's plain dataclass
        check(config)
    return config


def parser_of(f, hint):
    """The argparse type of a field's values: text -> the value, checked as check_value checks it (the choices are
    argparse's)."""
    kind = scalar_type(hint)

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        wrong = problem(f, kind, value, choices=False) if value is not None else \
            f"must be {'an integer' if kind is int else 'a number'}"
        if wrong:
            raise argparse.ArgumentTypeError(f"{wrong}, got {text}")
        return value
    return parse


def add_flags(parser, section, config_classes, owners, title=None):
    """Add the flags of the fields of `config_classes` (one section of the configuration: model, guide, data, train,
    evaluate, ...) to `parser` (in an argument group `title`, if given), each parsed into the destination
    "section.field" and absent from the result unless given. A field name that several classes share (each model's
    --latent) is one flag, its help naming who has it; `owners(cls)` names the users of a class (the variants, say)
    for that help. Returns {destination: (flag, field)} of the flags added."""
    flags = {}
    for cls in config_classes:
        for names, name, f, hint in fields(cls):
            entry = flags.setdefault(names, {"name": name, "field": f, "hint": hint, "helps": {}})
            if entry["name"] != name:
                raise ValueError(f"{primary(names)} names two fields, {entry['name']} and {name}; give one a `flag`")
            entry["helps"].setdefault(f.metadata["help"], []).append((cls, default_of(f)))
    group = parser.add_argument_group(title) if title else parser
    added = {}
    for names, entry in flags.items():
        f, hint = entry["field"], entry["hint"]
        helps = []
        for text, users in entry["helps"].items():
            defaults = sorted({" ".join(map(str, d)) if isinstance(d, list) else str(d) for _, d in users})
            who = ", ".join(name for cls, _ in users for name in owners(cls))
            default = f" (default {' / '.join(defaults)})" if defaults != ["None"] else ""
            helps.append(f"{text}{default}" + (f" [{who}]" if who else ""))
        kwargs = {"dest": f"{section}.{entry['name']}", "default": argparse.SUPPRESS, "help": "; ".join(helps)}
        if hint is bool:
            kwargs["action"] = "store_false" if default_of(f) else "store_true"
        else:
            kwargs["type"] = parser_of(f, hint)
            if is_list(hint):
                kwargs["nargs"] = "+"
            if f.metadata["choices"]:
                kwargs["choices"] = list(f.metadata["choices"])
            kwargs["metavar"] = f.metadata["metavar"] or (None if f.metadata["choices"] else entry["name"].upper())
        group.add_argument(*names, **kwargs)
        added[kwargs["dest"]] = (primary(names), f)
    return added
