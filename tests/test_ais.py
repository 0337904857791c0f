"""Annealed importance sampling and BDMC (ppl_vae/ais.py) on probabilistic PCA, whose log p(x) and posterior are
exact: the estimate is exact from the exact posterior in one step, rises to the truth from a poor start as steps
grow, the reverse chains bound it from above, and the HMC move leaves the posterior where it is."""
import json
import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from ppl_vae import ais
from ppl_vae.cli import main
from ppl_vae.guides.ppca import PPCAPosterior
from ppl_vae.models.ppca import PPCA
from ppl_vae.runs import pair

DATA, LATENT, POINTS = 6, 2, 8


@pytest.fixture
def ppca():
    torch.manual_seed(0)
    model = PPCA(DATA, LATENT)
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.3))
    return model


def prior_guide(x):
    """A poor start: q(z | x) = p(z), blind to x."""
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", dist.Normal(x.new_zeros(LATENT), 1.0).to_event(1))


def data(ppca):
    x, _ = ais.simulate(ppca, torch.zeros(POINTS, DATA))
    return x


def estimate(log_weight):
    """The log-mean-exp over chains, and its standard error by the delta method: sd(w) / (mean(w) sqrt(chains))."""
    chains = len(log_weight)
    w = (log_weight - log_weight.max(0).values).exp()
    return log_weight.logsumexp(0) - math.log(chains), w.std(0) / (w.mean(0) * math.sqrt(chains))


def forward(model, guide, x, steps, chains):
    pyro.set_rng_seed(1)
    path = ais.Path(model, guide, (x,), chains=chains)
    log_weight, acceptance = ais.anneal(path, path.draw(), ais.sigmoid_schedule(steps))
    return (*estimate(log_weight), acceptance)


def test_the_schedule_runs_from_0_to_1_finer_at_the_ends():
    schedule = ais.sigmoid_schedule(100)
    gaps = torch.tensor(schedule).diff()
    assert schedule[0] == 0.0 and schedule[-1] == 1.0 and (gaps > 0).all()
    assert gaps[0] < gaps[50] and gaps[-1] < gaps[50]


def test_from_the_exact_posterior_one_step_is_exact(ppca):
    """With q = p(z | x) every weight p(x, z) / q(z | x) is p(x): one step, b 0 -> 1, gives it in every chain."""
    x = data(ppca)
    pyro.set_rng_seed(1)
    path = ais.Path(ppca, PPCAPosterior(ppca), (x,), chains=4)
    log_weight, _ = ais.anneal(path, path.draw(), ais.sigmoid_schedule(1))
    exact = ppca.log_marginal(x).detach().double()
    assert torch.allclose(log_weight, exact.expand(4, POINTS), atol=1e-4)


def test_from_the_prior_the_estimate_rises_to_the_truth_as_steps_grow(ppca):
    """From q(z | x) = p(z) AIS is a stochastic lower bound: one step (importance sampling from the prior) falls short
    by many standard errors, and 200 steps close the gap to within 3 standard errors of the mean over points (each
    point's error by the delta method; the points independent)."""
    x = data(ppca)
    exact = ppca.log_marginal(x).detach().double()
    gaps = {}
    for steps in (1, 200):
        log_p, se, acceptance = forward(ppca, prior_guide, x, steps, chains=64)
        gaps[steps] = ((exact - log_p).mean().item(), se.pow(2).sum().sqrt().item() / POINTS)
    assert gaps[1][0] > 3 * gaps[1][1]  # short of the truth, by far
    assert abs(gaps[200][0]) < 3 * gaps[200][1] and gaps[200][0] < gaps[1][0] / 5
    assert 0.3 < acceptance < 0.95  # the step-size rule holds the moves near 0.65


def test_reverse_chains_from_the_exact_draw_bound_log_p_from_above(ppca):
    """BDMC: on data simulated with its z, reverse AIS from that z gives minus log-mean-exp of weights of mean
    1 / p(x), an upper bound; with one step from the prior guide it is E_post log p(x | z), which exceeds log p(x) by
    KL(p(z | x) || p(z)) on average; with many steps it closes on the truth."""
    x, latent = ais.simulate(ppca, torch.zeros(POINTS, DATA))
    exact = ppca.log_marginal(x).detach().double()
    uppers = {}
    for steps in (1, 200):
        pyro.set_rng_seed(1)
        path = ais.Path(ppca, prior_guide, (x,), chains=64)
        path.draw()
        log_weight, _ = ais.anneal(path, ais.chains_at(path, latent), ais.sigmoid_schedule(steps)[::-1])
        log_inverse, se = estimate(log_weight)
        uppers[steps] = ((-log_inverse - exact).mean().item(), se.pow(2).sum().sqrt().item() / POINTS)
    assert uppers[1][0] > 3 * uppers[1][1]
    assert abs(uppers[200][0]) < 3 * uppers[200][1] and uppers[200][0] < uppers[1][0] / 5


def test_hmc_leaves_the_posterior_invariant(ppca):
    """Chains started at exact draws of p(z | x) and moved by HMC at b = 1 keep the posterior's mean and variance,
    within 4 standard errors over 4 000 chains; the step is large enough (above the posterior's sd) that accepting
    every leapfrog trajectory would inflate the variance by far more."""
    x = data(ppca)[:2]
    pyro.set_rng_seed(2)
    path = ais.Path(ppca, PPCAPosterior(ppca), (x,), chains=4000)
    values = path.draw()
    step_size = torch.full(path.points, 0.15)
    accepted_rate = []
    for _ in range(5):
        values, accepted = ais.hmc_transition(path, values, 1.0, step_size, leapfrog_steps=5)
        accepted_rate.append(accepted.float().mean().item())
    posterior = PPCAPosterior(ppca).posterior(x)
    mean, variance = posterior.mean.detach(), posterior.variance.detach()
    z = values["z"]
    assert ((z.mean(0) - mean).abs() < 4 * (variance / 4000).sqrt()).all()
    assert ((z.var(0) - variance).abs() < 4 * variance * math.sqrt(2 / 4000)).all()
    assert 0.2 < sum(accepted_rate) / 5 < 0.99  # moves are made, and some are refused


@pytest.mark.parametrize("guide, message", [
    ("delta", "point mass"),
    ("categorical", "discrete or relaxed"),
])
def test_pairs_ais_cannot_serve_are_refused(guide, message):
    model_name = "categorical" if guide == "categorical" else "vae"
    model, guide = pair(model_name, (16,), guide=guide, hidden=[8])
    with pytest.raises(ValueError, match=message):
        ais.Path(model, guide, (torch.zeros(3, 16),), chains=2).draw()


def test_the_bounds_command_writes_the_sandwich_and_its_picture(tmp_path, capsys):
    """run.py bounds on a small trained VAE: IWAE_k, AIS and, on simulated images, reverse AIS, in bounds.json and
    bounds.png; a point-mass guide is refused in one line, before anything is written."""
    assert main(["train", "--subset", "300", "--epochs", "1", "--latent", "2", "--hidden", "16", "--runs-dir",
                 str(tmp_path), "--name", "vae"]) == 0
    assert main(["bounds", str(tmp_path / "vae"), "--iw-samples", "1", "10", "--ais-steps", "3", "--ais-chains", "4",
                 "--test-images", "6", "--simulated", "4", "--batch-size", "3"]) == 0
    report = json.loads((tmp_path / "vae" / "bounds.json").read_text())
    assert report["test"]["images"] == 6 and report["simulated"]["images"] == 4
    assert set(report["test"]) == {"images", "iwae", "ais"} and set(report["test"]["iwae"]) == {"1", "10"}
    upper = report["simulated"]["bdmc_upper"]["3"]
    assert math.isfinite(upper["log_px"]) and upper["chains"] == 4 and 0 <= upper["acceptance"] <= 1
    assert (tmp_path / "vae" / "bounds.png").stat().st_size > 0
    assert main(["train", "--subset", "300", "--epochs", "1", "--latent", "2", "--hidden", "16", "--guide", "delta",
                 "--runs-dir", str(tmp_path), "--name", "ae"]) == 0
    capsys.readouterr()
    assert main(["bounds", str(tmp_path / "ae"), "--test-images", "3"]) == 2
    err = capsys.readouterr().err
    assert "point mass" in err and err.count("\n") == 1
    assert not (tmp_path / "ae" / "bounds.json").exists()


def test_a_site_the_model_sums_out_stays_summed_in_the_potential():
    """y ~ Categorical(pi), z ~ N(0, 1), x | y, z ~ N(z + mu_y, 1), with y enumerated by the model: log p(x) =
    log sum_y pi_y N(x; mu_y, 2) exactly. AIS from a Gaussian guide on z alone (p(z | x) is a mixture, not that
    Gaussian) reaches it within 3 standard errors."""
    weights, means = torch.tensor([0.3, 0.7]), torch.tensor([-3.0, 3.0])

    def model(x):
        with pyro.plate("data", len(x)):
            y = pyro.sample("y", dist.Categorical(weights), infer={"enumerate": "parallel"})
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("x", dist.Normal(z + means[y], 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(torch.zeros_like(x), 1.0))

    x = torch.tensor([-2.0, 0.5, 4.0])
    exact = torch.logsumexp(weights.log() + dist.Normal(means, math.sqrt(2.0)).log_prob(x[:, None]), dim=1)
    pyro.set_rng_seed(0)
    path = ais.Path(model, guide, (x,), chains=64)
    log_p, se = estimate(ais.anneal(path, path.draw(), ais.sigmoid_schedule(200))[0])
    assert ((log_p - exact.double()).abs() < 3 * se + 1e-3).all()
