"""What several test files share."""
import re
from pathlib import Path

import torch
from pyro.poutine.util import site_is_subsample


def binary_batch(n=8, dim=20, seed=1):
    """n seeded random binary images of dim pixels."""
    return torch.bernoulli(torch.rand(n, dim, generator=torch.Generator().manual_seed(seed)))


def latent_sites(trace):
    """name -> (value shape, event shape) of the latent sample sites of a trace."""
    return {name: (site["value"].shape, site["fn"].event_shape) for name, site in trace.nodes.items()
            if site["type"] == "sample" and not site["is_observed"] and not site_is_subsample(site)}


def markdown_blocks(path, heading, language):
    """The fenced blocks of one language under a heading of a markdown file ("## Data"), up to the next heading of
    its level or above."""
    lines = Path(path).read_text().splitlines(keepends=True)
    level = heading.split(" ")[0]
    start = end = lines.index(heading + "\n") + 1
    fenced = False
    while end < len(lines) and (fenced or not re.match(rf"#{{1,{len(level)}}} ", lines[end])):
        fenced ^= lines[end].startswith("```")
        end += 1
    return re.findall(rf"```{language}\n(.*?)```", "".join(lines[start:end]), flags=re.S)
