"""Hierarchical VAEs as model/guide pairs: matching latent sites, and the generic evaluator and trainer on them."""
import matplotlib.pyplot as plt
import pyro
import pytest
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae import rundir
from ppl_vae.cli import main
from ppl_vae.evaluate import layer_statistics, log_likelihood
from ppl_vae.variants import TwoLayerConfig, build_two_layer
from tests.test_vae import latent_sites

DIM = 20


def small_two_layer():
    pyro.set_rng_seed(0)
    return build_two_layer(TwoLayerConfig(latents=[6, 3], lower_hidden=[16], upper_hidden=[8]), (DIM,))


def binary_batch(n=5):
    return torch.bernoulli(torch.rand(n, DIM, generator=torch.Generator().manual_seed(1)))


def test_every_latent_site_of_the_model_has_a_guide_site_of_the_same_shape():
    model, guide = small_two_layer()
    x = binary_batch()
    expected = {"z1": (torch.Size([5, 6]), torch.Size([6])), "z2": (torch.Size([5, 3]), torch.Size([3]))}
    assert latent_sites(poutine.trace(guide).get_trace(x)) == expected
    assert latent_sites(poutine.trace(model).get_trace(x)) == expected


def test_the_generic_evaluator_bounds_log_p_x_of_the_hierarchy():
    """With nothing specific to two layers, the evaluator's IWAE_k is the ELBO at k = 1 in expectation and rises
    with k: the mean over 5 images of IWAE_1000 is above that of the 2000-sample ELBO by more than 4 standard errors
    of the latter (an untrained guide, so the gap is nats wide)."""
    model, guide = small_two_layer()
    x = binary_batch()
    pyro.set_rng_seed(2)
    with torch.no_grad():
        elbos = torch.tensor([-Trace_ELBO().loss(model, guide, x) / len(x) for _ in range(2000)], dtype=torch.float64)
        iwae_1 = torch.stack([log_likelihood(model, guide, x, iw_samples=1).mean() for _ in range(2000)]).double()
        iwae_1000 = log_likelihood(model, guide, x, iw_samples=1000).mean().item()
    se = elbos.std().item() / len(elbos) ** 0.5
    assert iwae_1.mean().item() == pytest.approx(elbos.mean().item(), abs=4 * (2 * se**2) ** 0.5 + 1e-9)
    assert iwae_1000 > elbos.mean().item() + 4 * se


def test_the_two_layer_vae_trains_and_is_evaluated_from_the_command_line(tmp_path):
    flags = ["--subset", "300", "--latents", "8", "4", "--lower-hidden", "32", "--upper-hidden", "16", "--epochs", "1"]
    assert main(["train", "--model", "vae2", *flags, "--runs-dir", str(tmp_path), "--name", "two"]) == 0
    run_dir = tmp_path / "two"
    assert rundir.read_json(run_dir / rundir.CONFIG)["train"]["elbo"] == "trace"
    assert main(["evaluate", str(run_dir), "--iw-samples", "50"]) == 0
    results = rundir.read_json(run_dir / rundir.EVALUATION)
    assert results["test_nll"] < -results["test_elbo"]
    assert {name: layer["units"] for name, layer in results["layers"].items()} == {"z1": 8, "z2": 4}
    assert main(["plot", str(run_dir), str(run_dir), "--kind", "layers", "-o", str(tmp_path / "layers.png")]) == 0
    assert plt.imread(tmp_path / "layers.png").shape[:2] == (320, 640)  # 2 panels of 3.2 x 3.2 inches, 100 dpi
    assert main(["train", "--model", "vae2", "--latents", "8", "--subset", "300", "--runs-dir", str(tmp_path)]) == 2


def test_a_layers_kl_is_the_closed_form_for_a_gaussian_guide_and_prior():
    """One layer, q(z | x) = N(mu, s^2) and p(z) = N(0, I): the Monte Carlo KL of layer_statistics is the closed form
    within 5 of its standard errors (the variance of log q - log p over the draws, estimated from the same draws)."""
    from ppl_vae.variants import VAEConfig, build_vae
    pyro.set_rng_seed(0)
    model, guide = build_vae(VAEConfig(latent=3, hidden=[16]), (DIM,))
    x = binary_batch()
    stats = layer_statistics(model, guide, [(x,)], num_particles=20000)
    q = poutine.trace(guide).get_trace(x).nodes["z"]["fn"].base_dist
    closed = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1).mean().item()
    # the per-image KL's Monte Carlo variance is at most that of log q - log p, about 2 KL + dim for these sizes
    se = ((2 * closed + 3) / 20000 / len(x)) ** 0.5
    assert stats["z"]["kl"] == pytest.approx(closed, abs=5 * se)


def test_active_units_count_the_units_whose_posterior_mean_varies_over_the_images():
    """A linear two-layer guide: z1's units 0-2 read x, units 3-5 are constant; z2's unit 0 reads z1's unit 0 (active),
    unit 1 reads z1's unit 5 (inactive: its mean over 1000 draws varies by about 0.5 / 1000), unit 2 reads nothing."""
    model, guide = small_two_layer()
    lower, upper = torch.nn.Linear(DIM, 12), torch.nn.Linear(6, 6)
    for layer in (lower, upper):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    with torch.no_grad():
        lower.weight[:3] = 3 * torch.randn(3, DIM, generator=torch.Generator().manual_seed(3))
        upper.weight[0, 0] = upper.weight[1, 5] = 1.0
    guide.lower_encoder, guide.upper_encoder = lower, upper
    x = torch.bernoulli(torch.rand(200, DIM, generator=torch.Generator().manual_seed(4)))
    stats = layer_statistics(model, guide, [(x,)], num_particles=1000)
    assert {name: (s["active"], s["units"]) for name, s in stats.items()} == {"z1": (3, 6), "z2": (1, 3)}
