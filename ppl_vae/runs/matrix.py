"""The compatibility matrix: for every variant, each guide with each objective, and each training scheme, either
"trains" or the one line its run is refused with, found by the run's validation (runs/validation.py) on the
variant's default data; never written by hand. `ppl-vae list --matrix` prints it; docs/compatibility.md is that
page, and the suite checks that it is current."""
from ppl_vae.data import DataError
from ppl_vae.objectives import OBJECTIVES
from ppl_vae.runs.configuration import configure, describe
from ppl_vae.runs.life import load_data
from ppl_vae.runs.validation import PairRefusal, validate
from ppl_vae.variants import GUIDES, SCHEMES, VARIANTS

TRAINS = "trains"


def verdict(config, data):
    """(TRAINS, or the line the run of `config` on `data` is refused with; whether any objective would be refused
    alike, validation.PairRefusal)."""
    try:
        validate(config, data)
    except PairRefusal as refusal:
        return str(refusal), True
    except (DataError, OSError, ValueError) as refusal:
        return str(refusal), False
    return TRAINS, False


def variant_cells(name, device="cpu"):
    """{(guide, objective): verdict} for every guide and objective, and {scheme: verdict} with the variant's own
    guide and objective, on the variant's default data (read once). A guide refused whatever the objective is
    validated once for its row."""
    base = configure(name)
    data = load_data(base, device)
    pairs = {}
    for guide in GUIDES if base["guide"]["name"] else [None]:
        row = None
        for objective in OBJECTIVES:
            try:
                config = configure(name, guide, train={"elbo": objective})
            except ValueError as refusal:
                pairs[guide, objective] = str(refusal)
                continue
            pairs[guide, objective], whatever_objective = row or verdict(config, data)
            if whatever_objective:
                row = pairs[guide, objective], True
    schemes = {scheme: verdict(configure(name, scheme=scheme), data)[0] for scheme in SCHEMES}
    return pairs, schemes


def walk(variants=VARIANTS, device="cpu"):
    """The whole matrix: {variant: variant_cells}."""
    return {name: variant_cells(name, device) for name in variants}


def page(cells):
    """The matrix (walk's) as a Markdown page: per variant, a table of guides x objectives and a row of schemes,
    each cell "trains" or the number of the refusal listed below the table."""
    lines = ["# Compatibility: what trains with what", "",
             "Made by `ppl-vae list --matrix` (the run's validation on each variant's default data: the pair built, "
             "its traces checked against the guide, the objective and the scheme, one step taken on two data "
             "points); never edited by hand. A cell is **trains**, or the number of the one line that `ppl-vae "
             "train` refuses the run with, before anything is written.", ""]
    for name, (pairs, schemes) in cells.items():
        refusals = {}

        def cell(verdict):
            return f"**{TRAINS}**" if verdict == TRAINS else f"({refusals.setdefault(verdict, len(refusals) + 1)})"

        own = configure(name)
        lines += [f"## {name}", "", f"{VARIANTS[name].summary}. Its own guide: {own['guide']['name'] or 'its own'}; "
                  f"objective: {own['train']['elbo']}; scheme: {own['scheme']['name'] or 'plain'}; data: "
                  f"{own['data']['dataset']}.", "",
                  "| guide \\ --elbo | " + " | ".join(OBJECTIVES) + " |", "|---" * (len(OBJECTIVES) + 1) + "|"]
        for guide in dict.fromkeys(g for g, _ in pairs):
            lines.append(f"| {guide or '(its own)'} | " + " | ".join(cell(pairs[guide, o]) for o in OBJECTIVES) + " |")
        lines += ["", "| --scheme | " + " | ".join(schemes) + " |", "|---" * (len(schemes) + 1) + "|",
                  f"| {describe(own)} | " + " | ".join(cell(v) for v in schemes.values()) + " |", ""]
        lines += [f"{number}. {line}" for line, number in refusals.items()] + [""]
    return "\n".join(lines)
