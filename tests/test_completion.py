"""Image completion: the quadrants seen and hidden, and programs that score the hidden pixels only."""
import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro.infer import Trace_ELBO

from ppl_vae.evaluate import log_likelihood
from ppl_vae.runs import pair
from ppl_vae.models.completion import seen_mask


@pytest.mark.parametrize("quadrants, seen_corners", [
    (1, {"bottom-left"}), (2, {"top-left", "bottom-left"}), (3, {"top-left", "top-right", "bottom-left"}),
])
def test_the_seen_quadrants_are_the_asked_ones(quadrants, seen_corners):
    mask = seen_mask((28, 28), quadrants).reshape(28, 28)
    corners = {"top-left": mask[:14, :14], "top-right": mask[:14, 14:], "bottom-left": mask[14:, :14],
               "bottom-right": mask[14:, 14:]}
    for name, block in corners.items():
        assert block.all() if name in seen_corners else not block.any()


def test_the_baseline_scores_exactly_the_hidden_pixels():
    pyro.set_rng_seed(0)
    model, guide = pair("completion-nn", (28, 28), quadrants=3, hidden=[16])
    model.double()
    x = torch.rand(5, 784, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    hidden = ~model.seen
    logits = model.net(x.masked_fill(hidden, -1.0))  # the network sees the seen pixels, -1 elsewhere
    bce = F.binary_cross_entropy_with_logits(logits[:, hidden], x[:, hidden], reduction="sum")
    with torch.no_grad():
        assert Trace_ELBO().loss(model, guide, x) == pytest.approx(bce.item(), rel=1e-12)
        # nothing latent: every importance weight is p(x_hidden | x_seen), the estimate exact
        assert log_likelihood(model, guide, x, iw_samples=3).sum().item() == pytest.approx(-bce.item(), rel=1e-12)


def test_the_seen_pixels_are_not_scored():
    """The CVAE's likelihood term is the log-probability of the hidden pixels only: the sum of the per-pixel terms
    over the hidden mask, the seen pixels' terms left out."""
    pyro.set_rng_seed(0)
    model, guide = pair("completion", (28, 28), quadrants=2, latent=3, hidden=[16])
    x = torch.rand(4, 784, generator=torch.Generator().manual_seed(2))
    pyro.set_rng_seed(3)
    trace = pyro.poutine.trace(model).get_trace(x)
    trace.compute_log_prob()
    site = trace.nodes["x"]
    expected = site["fn"].base_dist.base_dist.log_prob(x)[:, ~model.seen].sum(-1)  # Bernoulli, masked, to_event
    assert torch.allclose(site["log_prob"], expected)
