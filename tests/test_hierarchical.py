"""Hierarchical VAEs as model/guide pairs: matching latent sites, the Ladder VAE's merge, the NVAE's residual
posterior, and the generic evaluator and trainer on all of them."""
from functools import partial

import math

import matplotlib.pyplot as plt
import pyro
import pyro.distributions as dist
import pytest
import torch

import helpers
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae.guides.gaussian import GaussianGuide
from ppl_vae.guides.ladder import precision_weighted
from ppl_vae.models.vae import VAE
from ppl_vae import rundir
from ppl_vae.cli import main
from ppl_vae.evaluate import layer_statistics, log_likelihood, log_weights
from ppl_vae.train import make_optimizer
from ppl_vae.runs import pair
from helpers import latent_sites

DIM = 20
SIDE = 8  # the NVAE's images: 8 x 8, latent groups at 2 x 2 and 4 x 4


def small_two_layer():
    pyro.set_rng_seed(0)
    return pair("vae2", (DIM,), latents=[6, 3], lower_hidden=[16], upper_hidden=[8])


def small_ladder(latents=(6, 4, 3)):
    pyro.set_rng_seed(0)
    return pair("lvae", (DIM,), latents=list(latents), hidden=[16, 12, 8][: len(latents)])


def small_nvae():
    pyro.set_rng_seed(0)
    return pair("nvae", (SIDE, SIDE), groups=[1, 2], width=8, latent_channels=2)


binary_batch = partial(helpers.binary_batch, n=5, dim=DIM)


# (pair builder, data dimension, the guide's latent sites: value shape for 5 images, event shape)
HIERARCHIES = {
    "vae2": (small_two_layer, DIM, {"z1": ((5, 6), (6,)), "z2": ((5, 3), (3,))}),
    "lvae": (small_ladder, DIM, {"z3": ((5, 3), (3,)), "z2": ((5, 4), (4,)), "z1": ((5, 6), (6,))}),
    "nvae": (small_nvae, SIDE * SIDE, {"z1": ((5, 2, 2, 2), (2, 2, 2)), "z2": ((5, 2, 4, 4), (2, 4, 4)),
                                       "z3": ((5, 2, 4, 4), (2, 4, 4))}),
}


@pytest.mark.parametrize("name", HIERARCHIES)
def test_every_latent_site_of_the_model_has_a_guide_site_of_the_same_shape(name):
    build, dim, sites = HIERARCHIES[name]
    model, guide = build()
    x = binary_batch(dim=dim)
    expected = {site: (torch.Size(value), torch.Size(event)) for site, (value, event) in sites.items()}
    assert latent_sites(poutine.trace(guide).get_trace(x)) == expected
    assert latent_sites(poutine.trace(model).get_trace(x)) == expected


@pytest.mark.parametrize("name", HIERARCHIES)
def test_the_generic_evaluator_bounds_log_p_x_of_every_hierarchy(name):
    """With nothing specific to any hierarchy, the evaluator's single-particle log weights (IWAE_1) average to the
    ELBO of Pyro's Trace_ELBO, and IWAE_1000 rises above it: over 5 images, 2000 draws each, by more than 4 standard
    errors of the mean log weight (an untrained guide, so the gap is nats wide). Eval mode: batch normalization then
    uses its running statistics, so each image's density does not depend on the other images or particles."""
    build, dim, _ = HIERARCHIES[name]
    model, guide = build()
    model.eval()
    guide.eval()
    x = binary_batch(dim=dim)
    pyro.set_rng_seed(2)
    with torch.no_grad():
        iwae_1 = log_weights(model, guide, (x,), {}, 2000, 1, "data")[0].double().mean(-1)  # per draw, over images
        elbo = -Trace_ELBO(num_particles=2000, vectorize_particles=True).loss(model, guide, x) / len(x)
        iwae_1000 = log_likelihood(model, guide, x, iw_samples=1000).mean().item()
    se = iwae_1.std().item() / len(iwae_1) ** 0.5
    assert iwae_1.mean().item() == pytest.approx(elbo, abs=4 * (2 * se**2) ** 0.5)
    assert iwae_1000 > elbo + 4 * se


def test_the_precision_weighted_merge_is_the_normalized_product_of_the_two_gaussians():
    """N(z; a) N(z; b) = N(a_loc; b_loc, a_scale^2 + b_scale^2) N(z; merged) for every z: the merge is the product's
    normalized density, at random locs, scales and points."""
    generator = torch.Generator().manual_seed(5)
    loc_a, loc_b, z = (3 * torch.randn(3, 7, generator=generator, dtype=torch.float64)).unbind()
    scale_a, scale_b = torch.rand(2, 7, generator=generator, dtype=torch.float64).add(0.1).unbind()
    a, b = dist.Normal(loc_a, scale_a), dist.Normal(loc_b, scale_b)
    normalizer = dist.Normal(loc_b, (scale_a**2 + scale_b**2).sqrt()).log_prob(loc_a)
    merged = precision_weighted(a, b)
    assert torch.allclose(a.log_prob(z) + b.log_prob(z), normalizer + merged.log_prob(z), atol=1e-12)
    # and it is symmetric, and between the two locs
    assert torch.allclose(precision_weighted(b, a).loc, merged.loc, atol=1e-12)
    assert bool(((merged.loc - loc_a) * (merged.loc - loc_b) <= 0).all())


def test_a_one_layer_ladder_vae_is_the_plain_vae():
    """With one stochastic layer there is nothing to merge: the Ladder VAE's guide is q(z | x) from its bottom-up
    pass and head, and its model the VAE's. The VAE built from the same networks gives the same ELBO and IWAE
    estimates draw for draw."""
    model, guide = small_ladder(latents=[3])
    model.eval()
    guide.eval()
    vae, vae_guide = VAE(model.decoder, 3), GaussianGuide(torch.nn.Sequential(guide.bottom_up[0], guide.heads[0]))
    x = binary_batch()
    for estimate in (lambda m, g: Trace_ELBO().loss(m, g, x), lambda m, g: log_likelihood(m, g, x, iw_samples=50)):
        pyro.set_rng_seed(6)
        ladder = estimate(model, guide)
        pyro.set_rng_seed(6)
        plain = estimate(vae, vae_guide)
        assert torch.allclose(torch.as_tensor(ladder), torch.as_tensor(plain), rtol=0, atol=1e-5)
    assert model.top_down is guide.top_down and len(model.top_down) == 0


def test_the_ladder_guide_shares_the_models_top_down_networks_and_the_optimizer_counts_them_once():
    model, guide = small_ladder()
    assert guide.top_down is model.top_down
    optimizer = make_optimizer(model, guide, 1e-3)
    parameters = optimizer.param_groups[0]["params"]
    assert len(parameters) == len({id(p) for p in [*model.parameters(), *guide.parameters()]}) < \
        len([*model.parameters(), *guide.parameters()])


def test_the_nvae_guide_is_relative_to_the_prior():
    """NVAE's residual posterior (Vahdat & Kautz 2020, eq. 2): with the guide's networks giving no shift and no
    stretch, q(z_g | z_<g, x) is p(z_g | z_<g) itself at every group, so log q = log p site by site (a KL of 0)."""
    model, guide = small_nvae()
    for posterior in guide.posteriors:
        for parameter in posterior.parameters():
            torch.nn.init.zeros_(parameter)
    x = binary_batch(dim=SIDE * SIDE)
    pyro.set_rng_seed(7)
    guide_trace = poutine.trace(guide).get_trace(x)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x)
    for name in ("z1", "z2", "z3"):
        value = guide_trace.nodes[name]["value"]
        q, p = guide_trace.nodes[name]["fn"], model_trace.nodes[name]["fn"]
        assert torch.allclose(q.log_prob(value), p.log_prob(value), atol=1e-5)
    assert not torch.allclose(model_trace.nodes["z2"]["fn"].base_dist.loc, torch.tensor(0.0))  # a learnt prior


def test_the_two_layer_vae_trains_and_is_evaluated_from_the_command_line(tmp_path):
    flags = ["--subset", "300", "--latents", "8", "4", "--lower-hidden", "32", "--upper-hidden", "16", "--epochs", "1"]
    assert main(["train", "--model", "vae2", *flags, "--runs-dir", str(tmp_path), "--name", "two"]) == 0
    run_dir = tmp_path / "two"
    assert rundir.read_json(run_dir / rundir.CONFIG)["train"]["elbo"] == "trace"
    assert main(["evaluate", str(run_dir), "--iw-samples", "50"]) == 0
    results = rundir.read_json(run_dir / "evaluation-k50.json")
    assert results["test_nll"] < -results["test_elbo"]
    assert {name: layer["units"] for name, layer in results["layers"].items()} == {"z1": 8, "z2": 4}
    assert main(["plot", str(run_dir), "--kind", "layers", "-o", str(tmp_path / "layers.png")]) == 0
    assert plt.imread(tmp_path / "layers.png").shape[:2] == (320, 640)  # a row of 2 panels of 3.2 x 3.2 inches, 100 dpi
    assert main(["train", "--model", "vae2", "--latents", "8", "--subset", "300", "--runs-dir", str(tmp_path)]) == 2
    # and on the IWAE bound: the trainer's vectorized particles pass through both layers
    assert main(["train", "--model", "vae2", *flags, "--elbo", "iwae", "--num-particles", "3", "--runs-dir",
                 str(tmp_path), "--name", "iwae"]) == 0
    assert math.isfinite(rundir.read_metrics(tmp_path / "iwae")[0]["train_elbo"])


def test_a_layers_kl_is_the_closed_form_for_a_gaussian_guide_and_prior():
    """One layer, q(z | x) = N(mu, s^2) and p(z) = N(0, I): the Monte Carlo KL of layer_statistics is the closed form
    within 5 of its standard errors (the variance of log q - log p over the draws, estimated from the same draws)."""
    pyro.set_rng_seed(0)
    model, guide = pair("vae", (DIM,), latent=3, hidden=[16])
    x = binary_batch()
    stats = layer_statistics(model, guide, [(x,)], num_particles=20000)
    q = poutine.trace(guide).get_trace(x).nodes["z"]["fn"].base_dist
    closed = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1).mean().item()
    # the per-image KL's Monte Carlo variance is at most that of log q - log p, about 2 KL + dim for these sizes
    se = ((2 * closed + 3) / 20000 / len(x)) ** 0.5
    assert stats["z"]["kl"] == pytest.approx(closed, abs=5 * se)


def linear_two_layer():
    """The two-layer pair with its guide's encoders replaced by linear layers of zeros, for a test to set."""
    model, guide = small_two_layer()
    lower, upper = torch.nn.Linear(DIM, 12), torch.nn.Linear(6, 6)
    for layer in (lower, upper):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    guide.encoders = torch.nn.ModuleList([lower, upper])
    return model, guide, lower, upper


def test_active_units_count_the_units_whose_posterior_mean_varies_over_the_images():
    """A linear two-layer guide: z1's units 0-2 read x, units 3-5 are constant; z2's unit 0 reads z1's unit 0 (active),
    unit 1 reads z1's unit 5 (inactive: its mean over 1000 draws varies by about 0.5 / 1000), unit 2 reads nothing."""
    model, guide, lower, upper = linear_two_layer()
    with torch.no_grad():
        lower.weight[:3] = 3 * torch.randn(3, DIM, generator=torch.Generator().manual_seed(3))
        upper.weight[0, 0] = upper.weight[1, 5] = 1.0
    x = torch.bernoulli(torch.rand(200, DIM, generator=torch.Generator().manual_seed(4)))
    stats = layer_statistics(model, guide, [(x,)], num_particles=1000)
    assert {name: (s["active"], s["units"]) for name, s in stats.items()} == {"z1": (3, 6), "z2": (1, 3)}


def test_the_monte_carlo_noise_of_a_posterior_mean_is_not_counted_as_activity():
    """z1's units ignore x (loc 0, scale softplus(0) = 0.69); z2's unit 0 has mean 3 z1_5. Averaged over 100 draws,
    E_q[z2_0 | x] still varies from image to image by 9 * 0.48 / 100 = 0.043, four times the threshold, from the
    draws alone. Once that noise is subtracted, estimated over 1000 images to about +-0.002, no unit is active."""
    model, guide, lower, upper = linear_two_layer()
    with torch.no_grad():
        upper.weight[0, 5] = 3.0
    x = torch.bernoulli(torch.rand(1000, DIM, generator=torch.Generator().manual_seed(4)))
    pyro.set_rng_seed(8)
    stats = layer_statistics(model, guide, [(x,)], num_particles=100)
    assert {name: s["active"] for name, s in stats.items()} == {"z1": 0, "z2": 0}


def test_the_ladder_and_nvae_train_and_are_evaluated_from_the_command_line(tmp_path):
    ladder = ["--model", "lvae", "--latents", "8", "4", "--hidden", "32", "16", "--depth", "1"]
    nvae = ["--model", "nvae", "--groups", "1", "1", "--width", "8", "--latent-channels", "2"]
    for name, flags in {"lvae": ladder, "lvae-plain": [*ladder, "--no-batch-norm"], "nvae": nvae}.items():
        assert main(["train", *flags, "--subset", "200", "--epochs", "1", "--runs-dir", str(tmp_path),
                     "--name", name]) == 0
    assert rundir.read_json(tmp_path / "lvae" / rundir.CONFIG)["model"]["batch_norm"] is True
    assert rundir.read_json(tmp_path / "lvae-plain" / rundir.CONFIG)["model"]["batch_norm"] is False
    state = rundir.load_checkpoint(tmp_path / "lvae-plain")
    assert not any("running_mean" in key for key in [*state["model"], *state["guide"]])
    assert main(["evaluate", str(tmp_path / "nvae"), "--iw-samples", "20", "--test-images", "30"]) == 0
    results = rundir.read_json(tmp_path / "nvae" / "evaluation-k20-n30.json")
    assert results["test_images"] == 30 and results["test_nll"] < -results["test_elbo"]
    assert {name: layer["units"] for name, layer in results["layers"].items()} == {"z1": 2 * 7 * 7, "z2": 2 * 14 * 14}
    samples = tmp_path / "samples.png"
    assert main(["plot", str(tmp_path / "lvae"), str(tmp_path / "nvae"), "--kind", "samples", "-o", str(samples)]) == 0
    assert main(["plot", str(tmp_path / "lvae"), "--kind", "traversal"]) == 2  # no single code z to traverse
    layers = tmp_path / "layers.png"
    assert main(["plot", str(tmp_path / "lvae"), str(tmp_path / "nvae"), "--kind", "layers", "-o", str(layers)]) == 0
    assert plt.imread(layers).shape[:2] == (640, 640)  # a row of two 3.2-inch panels per run, 100 dpi
    # a Ladder VAE needs one deterministic size per stochastic layer
    assert main(["train", *ladder[:-2], "--hidden", "32", "--subset", "200", "--runs-dir", str(tmp_path)]) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["lvae", "nvae"])
def test_the_ladder_and_nvae_train_and_are_evaluated_on_cuda(tmp_path, name):
    flags = {"lvae": ["--latents", "8", "4", "--hidden", "32", "16"], "nvae": ["--width", "8"]}[name]
    assert main(["train", "--model", name, *flags, "--subset", "500", "--epochs", "2", "--device", "cuda",
                 "--runs-dir", str(tmp_path), "--name", name]) == 0
    assert main(["evaluate", str(tmp_path / name), "--iw-samples", "100", "--test-images", "20", "--device",
                 "cuda"]) == 0
    results = rundir.read_json(tmp_path / name / "evaluation-k100-n20.json")
    assert results["test_nll"] < -results["test_elbo"]
