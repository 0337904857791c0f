"""Lopez et al.'s objective matrix: the model's parameters on one objective and the guide's on another
(--guide-objective, train.split_step), and reweighted wake-wake per data point (ppl_vae/wake.py)."""
from functools import partial

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import RenyiELBO, Trace_ELBO
from torch import nn

import helpers
from ppl_vae import rundir
from ppl_vae.cli import main
from ppl_vae.runs import pair
from ppl_vae.train import elbo_step, split_step
from ppl_vae.wake import WakeWake


def gradients(model, guide, elbo, x, seed):
    """The gradients one objective leaves on the pair's parameters, model's then guide's."""
    for p in [*model.parameters(), *guide.parameters()]:
        p.grad = None
    pyro.set_rng_seed(seed)
    elbo.loss_and_grads(model, guide, x)
    return [p.grad.clone() for p in model.parameters()], [p.grad.clone() for p in guide.parameters()]


@pytest.fixture
def vae():
    pyro.set_rng_seed(0)
    return pair("vae", (20,), latent=3, hidden=[16])


def test_each_side_steps_on_its_own_objective_on_the_same_draws(vae):
    """split_step leaves the model objective's gradients on the model and the guide objective's on the guide, each
    exactly as that objective alone gives them from the same seed."""
    model, guide = vae
    x = helpers.binary_batch(dim=20)
    # fresh objects each time: an ELBO's first call guesses the plate nesting, which draws too
    model_objective = partial(Trace_ELBO, num_particles=3, vectorize_particles=True)
    guide_objective = partial(RenyiELBO, alpha=0, num_particles=3, vectorize_particles=True)
    model_grads, _ = gradients(model, guide, model_objective(), x, seed=5)
    _, guide_grads = gradients(model, guide, guide_objective(), x, seed=5)
    for p in [*model.parameters(), *guide.parameters()]:
        p.grad = None
    pyro.set_rng_seed(5)
    split_step(elbo_step(model, guide, model_objective()), elbo_step(model, guide, guide_objective()), model,
               guide)((x,))
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), model_grads))
    assert all(torch.equal(p.grad, g) for p, g in zip(guide.parameters(), guide_grads))
    _, other_guide_grads = gradients(model, guide, model_objective(), x, seed=5)
    assert not all(torch.allclose(a, b) for a, b in zip(guide_grads, other_guide_grads))  # the two differ


def test_wake_theta_is_the_iwae_bound_and_its_gradient_for_the_model(vae):
    """With the same K draws, wake-wake's loss is minus the IWAE bound and its model gradient the IWAE bound's
    (RenyiELBO at alpha 0): the theta-gradient of log (1/K) sum_k w_k does not pass through the draws."""
    model, guide = vae
    x = helpers.binary_batch(dim=20)
    pyro.set_rng_seed(3)
    iwae_loss = RenyiELBO(alpha=0, num_particles=5, vectorize_particles=True).loss(model, guide, x)
    pyro.set_rng_seed(3)
    assert WakeWake(num_particles=5).loss(model, guide, x) == pytest.approx(iwae_loss, rel=1e-5)
    wake_model, _ = gradients(model, guide, WakeWake(num_particles=5), x, seed=3)
    iwae_model, _ = gradients(model, guide, RenyiELBO(alpha=0, num_particles=5, vectorize_particles=True), x, seed=3)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(wake_model, iwae_model))


class Conjugate(nn.Module):
    """z ~ N(0, 1), x | z ~ N(z, 1): with x = 1 the posterior is N(1/2, 1/2)."""

    def forward(self, x):
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x)


class NormalGuide(nn.Module):
    def __init__(self):
        super().__init__()
        self.loc, self.log_scale = nn.Parameter(torch.zeros(())), nn.Parameter(torch.zeros(()))

    def forward(self, x):
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(self.loc, self.log_scale.exp()))


def test_wake_phi_descends_the_kl_from_the_posterior():
    """wake-phi's gradient estimates that of KL(p(z | x) || q(z)) = const - E_p log q(z): for q = N(a, e^b) at
    a = b = 0 and p(z | x) = N(1/2, 1/2), d/da = -(E_p z - a) = -1/2 and d/db = 1 - E_p (z - a)^2 = 1/4. Self-
    normalized over 20 000 draws the estimate's sd is about 0.01; the tolerance is 4 of them."""
    guide = NormalGuide()
    pyro.set_rng_seed(0)
    WakeWake(num_particles=20_000).loss_and_grads(Conjugate(), guide, torch.ones(1))
    assert guide.loc.grad.item() == pytest.approx(-0.5, abs=0.04)
    assert guide.log_scale.grad.item() == pytest.approx(0.25, abs=0.04)


def test_both_sides_on_the_elbo_is_the_ordinary_training_exactly(tmp_path):
    """The matrix's diagonal: --elbo trace --guide-objective trace trains to the same weights, bit for bit, as
    --elbo trace, since both sides see the same draws."""
    common = ["train", "--subset", "300", "--epochs", "1", "--latent", "2", "--hidden", "16", "--elbo", "trace",
              "--runs-dir", str(tmp_path)]
    assert main([*common, "--name", "plain"]) == 0
    assert main([*common, "--guide-objective", "trace", "--name", "split"]) == 0
    plain, split = (rundir.load_checkpoint(tmp_path / name) for name in ("plain", "split"))
    for key in ("model", "guide"):
        assert all(torch.equal(plain[key][name], split[key][name]) for name in plain[key])
