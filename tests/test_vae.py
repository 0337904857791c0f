"""The VAE as a model/guide pair: matching sites, the two ELBO estimators, beta, and learning on real MNIST."""
from functools import partial

import pyro
import pytest
import torch

import helpers
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

from ppl_vae.data import DataConfig, Dataset
from ppl_vae.evaluate import log_likelihood, mean_elbo
from ppl_vae.train import ScaleLatents, TrainConfig, fit
from ppl_vae.runs import pair

DIM = 20


def small_pair(seed=0, latent=3):
    pyro.set_rng_seed(seed)
    return pair("vae", (DIM,), latent=latent, hidden=[16])


binary_batch = partial(helpers.binary_batch, dim=DIM)


def test_model_and_guide_agree_on_latent_sites():
    model, guide = small_pair()
    x = binary_batch()
    guide_trace = poutine.trace(guide).get_trace(x)
    model_trace = poutine.trace(model).get_trace(x)
    assert helpers.latent_sites(guide_trace) == helpers.latent_sites(model_trace) == {"z": (torch.Size([8, 3]), torch.Size([3]))}
    assert model_trace.nodes["x"]["is_observed"]


def elbo_estimates(elbo, model, guide, x, repeats):
    with torch.no_grad():
        values = torch.tensor([-elbo.loss(model, guide, x) for _ in range(repeats)], dtype=torch.float64)
    return values.mean(), values.std() / repeats**0.5


def test_meanfield_and_trace_elbo_agree_in_expectation():
    """Same bound, two estimators (Monte Carlo KL vs analytic KL): their means agree within Monte Carlo error."""
    model, guide = small_pair()
    x = binary_batch()
    pyro.set_rng_seed(2)
    kwargs = dict(num_particles=200, vectorize_particles=True)
    trace_mean, trace_se = elbo_estimates(Trace_ELBO(**kwargs), model, guide, x, 50)
    mf_mean, mf_se = elbo_estimates(TraceMeanField_ELBO(**kwargs), model, guide, x, 50)
    combined_se = (trace_se**2 + mf_se**2) ** 0.5
    assert combined_se < 0.2  # the check below is a sharp one
    assert abs(trace_mean - mf_mean) < 4 * combined_se


def test_beta_scales_the_kl_term_only():
    """With the same draw of z, the beta-weighted loss differs from the ELBO's by exactly (beta - 1) * KL."""
    model, guide = small_pair()
    x = binary_batch()
    beta = 4.0
    losses = []
    for scale in (1.0, beta):
        pyro.set_rng_seed(3)
        losses.append(TraceMeanField_ELBO().loss(ScaleLatents(scale)(model), ScaleLatents(scale)(guide), x))
    q = poutine.trace(guide).get_trace(x).nodes["z"]["fn"]
    p = poutine.trace(model).get_trace(x).nodes["z"]["fn"]
    kl = torch.distributions.kl_divergence(q, p).sum().item()
    assert losses[1] - losses[0] == pytest.approx((beta - 1) * kl, rel=1e-5)


def test_a_few_hundred_steps_raise_the_validation_elbo(tmp_path):
    pyro.set_rng_seed(0)
    data = Dataset(DataConfig(subset=1000), seed=0)
    model, guide = pair("vae", data.image_shape)
    initial = mean_elbo(model, guide, data.batches("valid", 500, shuffle=False), TraceMeanField_ELBO())
    metrics = fit(model, guide, data, TrainConfig(epochs=30, batch_size=100), tmp_path)  # 300 steps
    # An untrained decoder says p = 1/2 per pixel: 784 log 2 = 543 nats. After 300 steps the VAE has learned the
    # digits' average shape and stroke statistics (about -200 nats); require well over half of that gain.
    assert initial < -500
    assert metrics[-1]["valid_elbo"] > initial + 250
    assert metrics[-1]["valid_elbo"] > metrics[0]["valid_elbo"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(tmp_path):
    pyro.set_rng_seed(0)
    data = Dataset(DataConfig(subset=500), device="cuda", seed=0)
    model, guide = (m.cuda() for m in pair("vae", data.image_shape))
    metrics = fit(model, guide, data, TrainConfig(epochs=2, elbo="iwae", num_particles=4), tmp_path)
    assert metrics[-1]["valid_elbo"] > metrics[0]["valid_elbo"] - 5
    assert next(model.parameters()).is_cuda
    log_px = log_likelihood(model, guide, data.images["test"][:20], iw_samples=100, chunk_size=30)
    assert log_px.is_cuda and log_px.shape == (20,) and torch.isfinite(log_px).all()


def test_the_decoder_and_the_encoder_activation_as_chen_et_al_build_them():
    """--decoder-hidden sets the decoder's layers apart from the encoder's (Chen et al.'s 3 against 2), and
    --encoder-activation relu makes the encoder's units ReLU; the decoder stays tanh."""
    model, guide = pair("vae", (DIM,), latent=3, hidden=[16, 12], decoder_hidden=[5, 6, 7], encoder_activation="relu")
    widths = [layer.out_features for layer in model.decoder if isinstance(layer, torch.nn.Linear)]
    assert widths == [5, 6, 7, DIM]
    assert {type(layer) for layer in model.decoder if not isinstance(layer, torch.nn.Linear)} == {torch.nn.Tanh}
    encoder = [layer for layer in guide.modules() if isinstance(layer, (torch.nn.Linear, torch.nn.ReLU, torch.nn.Tanh))]
    assert [type(layer).__name__ for layer in encoder] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert encoder[-1].out_features == 6  # loc and scale of 3 units
