"""The KL term's three parts (index-code MI, total correlation, dimension-wise KL) against their values by quadrature,
and beta-TCVAE's objective against Trace_ELBO."""
import json
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

import helpers
from ppl_vae.cli import main
from ppl_vae.decomposition import TERMS, TotalCorrelationELBO, kl_terms, latent_kl_terms
from ppl_vae.guides.dip_vae import DIPVAEGuide
from ppl_vae.guides.factor_vae import permuted_units
from ppl_vae.nets import diagonal_normal
from ppl_vae.runs import pair
from ppl_vae.train import make_optimizer

LOC = torch.tensor([[-1.5, 0.5], [1.0, 1.2], [0.3, -1.0], [2.0, -0.5]], dtype=torch.float64)
SCALE = torch.tensor([[0.5, 0.8], [0.7, 0.4], [1.0, 0.6], [0.3, 0.9]], dtype=torch.float64)


def exact_terms(loc, scale, step=0.01, limit=7.0):
    """The three parts for q(z | n) = Normal(loc[n], scale[n]) over N points and p(z) = N(0, I) in two dimensions, by
    the midpoint rule on a grid: q(z) = mean_n q(z | n), its marginals likewise."""
    grid = torch.arange(-limit, limit, step, dtype=torch.float64) + step / 2
    per_unit = dist.Normal(loc, scale).log_prob(grid[:, None, None]).exp()  # (grid, points, units)
    marginals = per_unit.mean(1)  # q(z_j) on the grid, (grid, units)
    q_given_n = per_unit[:, None, :, 0] * per_unit[None, :, :, 1]  # (grid, grid, points)
    q = q_given_n.mean(-1)
    area = step ** 2
    log_q_given_n = q_given_n.clamp_min(1e-300).log()
    mi = (q_given_n * (log_q_given_n - q.clamp_min(1e-300).log()[..., None])).sum((0, 1)).mean() * area
    product = marginals[:, None, 0] * marginals[None, :, 1]
    tc = (q * (q.clamp_min(1e-300).log() - product.clamp_min(1e-300).log())).sum() * area
    prior = dist.Normal(0.0, 1.0).log_prob(grid)[:, None]
    dim_kl = (marginals * (marginals.clamp_min(1e-300).log() - prior)).sum() * step
    return {"index_code_mi": mi, "total_correlation": tc, "dimension_wise_kl": dim_kl}


def test_with_the_whole_dataset_as_the_batch_each_part_is_estimated_without_bias():
    """N = 4 points in two dimensions, all of them in every batch (M = N, where the stratified estimate of log q(z)
    is exact): over 20 000 draws each part's mean lies within 4 standard errors of its value by quadrature, and per
    draw the parts add up to log q(z | n) - log p(z), whose mean is the closed-form KL averaged over the points."""
    torch.manual_seed(0)
    posterior = dist.Normal(LOC, SCALE).to_event(1)
    prior = dist.Normal(torch.zeros_like(LOC), 1.0).to_event(1)
    repeats = 20_000
    z = posterior.sample((repeats,))  # (repeats, points, units)
    terms = kl_terms(posterior, prior, z, dataset_size=len(LOC))
    exact = exact_terms(LOC, SCALE)
    for name in TERMS:
        per_repeat = terms[name].mean(-1)
        mean, se = per_repeat.mean(), per_repeat.std() / repeats ** 0.5
        assert abs(mean - exact[name]) < 4 * se, (name, mean.item(), exact[name].item(), se.item())
    total = sum(terms.values())
    assert torch.allclose(total, posterior.log_prob(z) - prior.log_prob(z), rtol=0, atol=1e-10)
    closed_form = torch.distributions.kl_divergence(dist.Normal(LOC, SCALE), dist.Normal(0.0, 1.0)).sum(-1).mean()
    assert abs(sum(exact.values()) - closed_form) < 1e-6  # the identity itself, by quadrature
    per_repeat = total.mean(-1)
    assert abs(per_repeat.mean() - closed_form) < 4 * per_repeat.std() / repeats ** 0.5


def test_independent_units_have_no_total_correlation():
    """When every point's q(z | n) is the same, q(z) = q(z | n) factorizes: the total correlation and the index-code
    MI are 0 for every draw, and the whole KL term is dimension-wise."""
    posterior = dist.Normal(LOC[:1].expand(5, 2), SCALE[:1].expand(5, 2)).to_event(1)
    prior = dist.Normal(torch.zeros(5, 2, dtype=torch.float64), 1.0).to_event(1)
    z = posterior.sample((100,))
    terms = kl_terms(posterior, prior, z, dataset_size=1000)
    assert torch.allclose(terms["total_correlation"], torch.zeros((), dtype=torch.float64), atol=1e-10)
    assert torch.allclose(terms["index_code_mi"], torch.zeros((), dtype=torch.float64), atol=1e-10)


def vae_traces(model, guide, x, seed):
    pyro.set_rng_seed(seed)
    guide_trace = poutine.trace(guide).get_trace(x)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x)
    return model_trace, guide_trace


@pytest.mark.parametrize("weights", [{}, {"tc_weight": 6.0}, {"mi_weight": 0.5, "tc_weight": 4.0, "dim_kl_weight": 2.0}])
def test_the_objective_is_the_elbo_less_the_weighted_parts_and_its_gradients_are_its_own(weights):
    """On a small VAE: with every weight 1 the loss and gradients are Trace_ELBO's on the same draws; otherwise the
    value returned is -(ELBO - sum (w - 1) part), and the gradients are those of that value."""
    pyro.set_rng_seed(0)
    model, guide = pair("vae", (20,), latent=3, hidden=[16])
    x = helpers.binary_batch(dim=20)
    dataset_size = 500
    parameters = [*model.parameters(), *guide.parameters()]

    def gradients(loss_and_grads):
        for p in parameters:
            p.grad = None
        pyro.set_rng_seed(1)
        value = loss_and_grads(model, guide, x)
        return value, [p.grad.clone() for p in parameters]

    value, grads = gradients(TotalCorrelationELBO(dataset_size=dataset_size, **weights).loss_and_grads)
    model_trace, guide_trace = vae_traces(model, guide, x, seed=1)
    objective = model_trace.log_prob_sum() - guide_trace.log_prob_sum()
    terms = latent_kl_terms(model_trace, guide_trace, dataset_size)["z"]
    extra = {"index_code_mi": weights.get("mi_weight", 1.0) - 1, "total_correlation": weights.get("tc_weight", 1.0) - 1,
             "dimension_wise_kl": weights.get("dim_kl_weight", 1.0) - 1}
    objective = objective - sum(w * terms[name].sum() for name, w in extra.items())
    assert value == pytest.approx(-objective.item(), rel=1e-6)
    expected = torch.autograd.grad(-objective, parameters)
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(grads, expected))
    if not weights:
        elbo_value, elbo_grads = gradients(Trace_ELBO().loss_and_grads)
        assert value == pytest.approx(elbo_value, rel=1e-6)
        assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(grads, elbo_grads))
    # evaluation reads the ELBO, not the objective
    pyro.set_rng_seed(1)
    elbo_loss = TotalCorrelationELBO(dataset_size=dataset_size, **weights).loss(model, guide, x)
    pyro.set_rng_seed(1)
    assert elbo_loss == pytest.approx(Trace_ELBO().loss(model, guide, x), rel=1e-6)


def test_a_guide_that_is_not_reparameterized_is_refused():
    def model(x):
        with pyro.plate("data", len(x)):
            y = pyro.sample("y", dist.Bernoulli(0.5))
            pyro.sample("x", dist.Normal(y, 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", len(x)):
            pyro.sample("y", dist.Bernoulli(0.3))

    with pytest.raises(ValueError, match="reparameterization; the guide's 'y', a Bernoulli, is not"):
        TotalCorrelationELBO(dataset_size=10).loss_and_grads(model, guide, torch.zeros(3))


def test_a_beta_tcvae_trains_on_the_shapes_and_evaluate_scores_its_code(tmp_path):
    """The command line: --elbo tcvae on the small shapes dataset, then evaluate's disentanglement scores and the KL
    term's parts. The index-code MI is at most log N (log q(z) >= log q(z | n) - log N for every draw: n's own
    term), and the scores lie in [0, 1]."""
    assert main(["train", "--model", "vae", "--dataset", "shapes", "--epochs", "1", "--latent", "4", "--hidden", "32",
                 "--elbo", "tcvae", "--tc-weight", "6", "--runs-dir", str(tmp_path), "--name", "tc"]) == 0
    config = json.loads((tmp_path / "tc" / "config.json").read_text())
    assert config["train"]["elbo"] == "tcvae" and config["train"]["tc_weight"] == 6.0
    assert main(["evaluate", str(tmp_path / "tc"), "--iw-samples", "0"]) == 0
    results = json.loads((tmp_path / "tc" / "evaluation-k0.json").read_text())
    scores = results["disentanglement"]
    assert scores["site"] == "z"
    assert all(0 <= scores[name] <= 1 for name in ("mig", "mig_without_shape", "sap", "factor_vae_score",
                                                    "dci_disentanglement", "dci_completeness", "dci_informativeness"))
    parts = results["kl_decomposition"]["z"]
    assert set(parts) == set(TERMS)
    assert 0 <= parts["index_code_mi"] <= math.log(512) and parts["dimension_wise_kl"] >= 0
    assert main(["plot", str(tmp_path / "tc"), "--kind", "factors"]) == 0
    assert (tmp_path / "tc" / "factors.png").stat().st_size > 0


def test_the_factors_picture_of_a_run_without_factors_is_refused_in_one_line(tmp_path, capsys):
    assert main(["train", "--subset", "300", "--epochs", "1", "--latent", "2", "--hidden", "16", "--runs-dir",
                 str(tmp_path), "--name", "digits"]) == 0
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "digits"), "--kind", "factors"]) == 2
    err = capsys.readouterr().err
    assert "--kind factors needs images with known factors" in err and err.count("\n") == 1


def test_permuted_units_keep_each_marginal_and_break_the_joint():
    z = torch.arange(40.0).reshape(10, 4) + 100 * torch.arange(4.0)
    permuted = permuted_units(z, torch.Generator().manual_seed(0))
    assert all(torch.equal(permuted[:, j].sort().values, z[:, j]) for j in range(4))
    rows = {tuple(row.tolist()) for row in z}
    assert sum(tuple(row.tolist()) in rows for row in permuted) < 10


def factor_vae_gradients(gamma, x, seed=1):
    """Gradients of Trace_ELBO's loss for the VAE's model with FactorVAE's guide (weights seeded alike), by module."""
    pyro.set_rng_seed(0)
    model, guide = pair("vae", (20,), guide="factor-vae", latent=3, hidden=[16], gamma=gamma, discriminator=[8])
    pyro.set_rng_seed(seed)
    Trace_ELBO().loss_and_grads(model, guide, x)
    return {name: [p.grad for p in module.parameters()]
            for name, module in (("decoder", model), ("encoder", guide.encoder), ("discriminator", guide.discriminator))}


def test_factor_vae_trains_the_encoder_on_the_penalty_and_the_discriminator_on_its_own_loss():
    """The penalty gamma TC(z) reaches the encoder, not the discriminator; the discriminator's cross-entropy reaches
    the discriminator, not the encoder: with gamma = 0 the encoder and decoder get the plain VAE's gradients (the same
    draws), and the discriminator's gradients do not depend on gamma. In evaluation mode the guide is q(z | x) alone."""
    x = helpers.binary_batch(dim=20)
    without, with_penalty = factor_vae_gradients(0.0, x), factor_vae_gradients(35.0, x)
    pyro.set_rng_seed(0)
    model, guide = pair("vae", (20,), latent=3, hidden=[16])
    pyro.set_rng_seed(1)
    Trace_ELBO().loss_and_grads(model, guide, x)
    plain = [p.grad for p in guide.parameters()]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(without["encoder"], plain))
    assert all(torch.allclose(a, b) for a, b in zip(without["discriminator"], with_penalty["discriminator"]))
    assert not all(torch.allclose(a, b) for a, b in zip(without["encoder"], with_penalty["encoder"]))
    pyro.set_rng_seed(0)
    _, factor_guide = pair("vae", (20,), guide="factor-vae", latent=3, hidden=[16], discriminator=[8])
    factor_guide.eval()
    sites = {name for name, site in poutine.trace(factor_guide).get_trace(x).nodes.items() if site["type"] == "sample"}
    assert sites == {"data", "z"}


def test_factor_vae_discriminator_steps_with_adam_settings_of_its_own():
    """Kim & Mnih's discriminator has its own Adam (lr 1e-4, betas 0.5 and 0.9): one optimizer step moves each of
    its weights by its own learning rate (Adam's first step is lr times the gradient's sign), the VAE's by --lr, and
    every parameter is stepped once."""
    pyro.set_rng_seed(0)
    model, guide = pair("vae", (20,), guide="factor-vae", latent=3, hidden=[16], discriminator=[8])
    optimizer = make_optimizer(model, guide, lr=1e-2)
    assert sum(len(group["params"]) for group in optimizer.param_groups) == \
        len({id(p) for p in [*model.parameters(), *guide.parameters()]})
    assert [(group["lr"], group["betas"]) for group in optimizer.param_groups] == [(1e-2, (0.9, 0.999)),
                                                                                   (1e-4, (0.5, 0.9))]
    before = {name: [p.detach().clone() for p in module.parameters()]
              for name, module in (("encoder", guide.encoder), ("discriminator", guide.discriminator))}
    Trace_ELBO().loss_and_grads(model, guide, helpers.binary_batch(dim=20))
    optimizer.step()
    for name, lr in (("encoder", 1e-2), ("discriminator", 1e-4)):
        module = getattr(guide, name)
        steps = torch.cat([(p - b).abs().flatten() for p, b in zip(module.parameters(), before[name])])
        assert steps.max().item() == pytest.approx(lr, rel=1e-3)


def whitened(batch, units, seed=0):
    """Rows whose batch covariance (divided by the batch size) is exactly the identity."""
    rows = torch.randn(batch, units, generator=torch.Generator().manual_seed(seed), dtype=torch.double)
    rows = rows - rows.mean(0)
    return rows @ torch.linalg.inv(torch.linalg.cholesky(torch.cov(rows.T, correction=0))).T


@pytest.mark.parametrize("kind", ["i", "ii"])
def test_dip_vae_penalty_is_zero_at_the_identity_and_weighs_each_part(kind):
    """DIP-VAE-I scores the covariance of the means, -II adds the mean posterior variance (Kumar et al. eq. 6-7):
    means of identity covariance (-I) or constant means with unit posterior variances (-II) cost nothing; doubling
    the means costs lambda_d (4 - 1)^2 per unit; a shared component costs lambda_od per off-diagonal pair."""
    guide = DIPVAEGuide(torch.nn.Identity(), kind, lambda_od=2.0, lambda_d=5.0)
    loc, ones = whitened(64, 3), torch.ones(64, 3, dtype=torch.double)
    if kind == "i":
        assert guide.penalty(loc, ones).item() == pytest.approx(0.0, abs=1e-20)
        assert guide.penalty(2 * loc, ones).item() == pytest.approx(5.0 * 3 * 9)
        mixed = torch.stack([loc[:, 0], loc[:, 0], loc[:, 2]], dim=1)  # C_01 = C_10 = 1, the rest the identity
        assert guide.penalty(mixed, ones).item() == pytest.approx(2.0 * 2)
    else:
        assert guide.penalty(torch.zeros(64, 3), torch.ones(64, 3)).item() == pytest.approx(0.0, abs=1e-20)
        # means of identity covariance add to the unit variances: the diagonal is 2
        assert guide.penalty(loc, ones).item() == pytest.approx(5.0 * 3)


def test_dip_vae_is_the_vae_plus_its_penalty_times_the_batch_while_training():
    """Trace_ELBO's loss with DIP-VAE's guide is the plain VAE's on the same draws plus the batch size times the
    penalty at the batch's moments; in evaluation mode the guide is q(z | x) alone."""
    x = helpers.binary_batch(dim=20)
    losses = []
    for guide_name in ("gaussian", "dip-vae"):
        pyro.set_rng_seed(0)
        model, guide = pair("vae", (20,), guide=guide_name, latent=3, hidden=[16])
        pyro.set_rng_seed(1)
        losses.append(Trace_ELBO().loss(model, guide, x))
    q_z = diagonal_normal(guide.encoder(x))
    expected = len(x) * guide.penalty(q_z.loc, q_z.scale).item()
    assert losses[1] - losses[0] == pytest.approx(expected, rel=1e-5)
    guide.eval()
    sites = {name for name, site in poutine.trace(guide).get_trace(x).nodes.items() if site["type"] == "sample"}
    assert sites == {"data", "z"}


def test_dip_vae_trains_on_the_shapes_and_evaluate_scores_its_code(tmp_path):
    assert main(["train", "--model", "vae", "--dataset", "shapes", "--epochs", "1", "--latent", "4", "--hidden", "32",
                 "--guide", "dip-vae", "--dip", "ii", "--runs-dir", str(tmp_path), "--name", "dip"]) == 0
    config = json.loads((tmp_path / "dip" / "config.json").read_text())
    assert config["guide"]["name"] == "dip-vae" and config["guide"]["dip"] == "ii"
    assert main(["evaluate", str(tmp_path / "dip"), "--iw-samples", "0"]) == 0
    assert "dci_disentanglement" in json.loads((tmp_path / "dip" / "evaluation-k0.json").read_text())["disentanglement"]
