"""The table: the variants that the family files of models/ declare, the guides that the files of guides/ declare,
and the training schemes; and a user's pair file, which enters through the same door (pairs.Variant).

The only listing: a new family or guide file is one line here.
"""
import functools
import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path

from ppl_vae import schemes
from ppl_vae.pairs import Variant

FAMILIES = ["vae", "hierarchical", "nvae", "categorical", "mixture", "vqvae", "cvae", "completion", "m2",
            "sentence_vae"]
GUIDE_FILES = ["gaussian", "delta", "factor_vae", "dip_vae", "fullcov", "flow", "bottom_up", "ladder", "nvae",
               "categorical", "conditional", "m2", "vade", "vqvae", "empty"]

VARIANTS = {name: variant for family in FAMILIES
            for name, variant in importlib.import_module(f"ppl_vae.models.{family}").VARIANTS.items()}
GUIDES = {name: guide for file in GUIDE_FILES
          for name, guide in importlib.import_module(f"ppl_vae.guides.{file}").GUIDES.items()}
USER_FILES = set()  # the resolved paths of the users' pair files read so far (user_frame)
# the generic schemes any pair may name (--scheme), and the families' own
SCHEMES = {scheme.name: scheme for scheme in [*schemes.GENERIC, *(v.scheme for v in VARIANTS.values() if v.scheme)]}


def schemes_of(variant):
    """The schemes a variant may name: the generic ones, the families', and its own (a user's pair may declare one)."""
    return {**SCHEMES, **({variant.scheme.name: variant.scheme} if variant.scheme else {})}


def is_user_pair(spec):
    return ":" in spec


def pair_source(spec):
    """{"path", "sha256"} of the file a user's pair comes from ("path.py:NAME" or "package.module:NAME")."""
    path = Path(spec.rsplit(":", 1)[0])
    if path.suffix != ".py":
        module = importlib.util.find_spec(str(path))
        if module is None or module.origin is None:
            raise ValueError(f"--model {spec}: no module {path} can be imported")
        path = Path(module.origin)
    if not path.is_file():
        raise ValueError(f"--model {spec}: no such file {path}")
    return {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def user_variant(spec, source=None):
    """The Variant that a user's file or module declares under NAME ("my_pair.py:NAME"): a pairs.Variant, or a bare
    build(image_shape) -> (model, guide). `source`: the file as a run recorded it (pair_source), read from there,
    with a warning if it has changed since."""
    path, name = spec.rsplit(":", 1)
    source = source or pair_source(spec)
    now = pair_source(source["path"] + ":" + name)
    if now["sha256"] != source["sha256"]:
        warn_changed(source["path"], source["sha256"], now["sha256"])
    USER_FILES.add(source["path"])
    if path.endswith(".py"):
        module_spec = importlib.util.spec_from_file_location(Path(source["path"]).stem, source["path"])
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:  # imported by its name, so that the module's own imports (relative ones too) resolve
        module = importlib.import_module(path)
    declared = getattr(module, name, None)
    if isinstance(declared, Variant):
        return declared
    if not callable(declared):
        raise ValueError(f"--model {spec}: {source['path']} has no Variant or function {name}")
    required = [p for p in inspect.signature(declared).parameters.values() if p.default is p.empty]
    if len(required) != 1:
        raise ValueError(f"--model {spec}: {name} takes {len(required)} arguments; a bare build takes the image shape "
                         "alone (a ppl_vae.pairs.Variant declares a build of the options and the data)")
    return Variant(lambda options, data: declared(tuple(data.image_shape)), summary=f"{Path(path).name}:{name}")


def user_frame(error):
    """The innermost frame of the error's traceback that is in a user's pair file, or None: where their code raised
    (or called what raised)."""
    frames = traceback.extract_tb(error.__traceback__)
    return next((frame for frame in reversed(frames) if frame.filename in USER_FILES), None)


@functools.cache  # once a command, however often the file is read
def warn_changed(path, then, now):
    print(f"warning: {path} has changed since this run was configured (SHA-256 {then[:12]} then, {now[:12]} now)",
          file=sys.stderr)


def lookup(spec, source=None):
    """The Variant a --model names: a variant of the table, or a user's file or module (user_variant)."""
    if is_user_pair(spec):
        return user_variant(spec, source)
    if spec not in VARIANTS:
        raise ValueError(f"unknown --model {spec!r}: a variant ({', '.join(VARIANTS)}) or a file or module with "
                         "a Variant or a build function, PATH.py:NAME or package.module:NAME")
    return VARIANTS[spec]
