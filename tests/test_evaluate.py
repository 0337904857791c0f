"""The importance-weighted estimator of log p(x) against exact likelihoods: probabilistic PCA, whose log p(x) and
posterior are closed-form, and a mixture whose discrete latent is summed out by enumeration."""
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import RenyiELBO, Trace_ELBO, config_enumerate

from ppl_vae.guides.ppca import PPCAPosterior
from ppl_vae.models.ppca import PPCA
from ppl_vae.evaluate import log_likelihood

DATA_DIM, LATENT_DIM, POINTS = 4, 2, 5


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def ppca_and_data(seed=0):
    pyro.set_rng_seed(seed)
    ppca = PPCA(DATA_DIM, LATENT_DIM)
    with torch.no_grad():
        ppca.bias.normal_()
        ppca.log_sigma.fill_(math.log(0.5))
        z = torch.randn(POINTS, LATENT_DIM)
        x = z @ ppca.weight.T + ppca.bias + 0.5 * torch.randn(POINTS, DATA_DIM)
    return ppca, x


class PoorGuide:
    """The exact PPCA posterior with its mean moved by `shift` posterior standard deviations and its standard
    deviations multiplied by `widen`: a guide of the right family in the wrong place."""

    def __init__(self, ppca, shift=0.7, widen=1.5):
        self.exact, self.shift, self.widen = PPCAPosterior(ppca), shift, widen

    def __call__(self, x):
        posterior = self.exact.posterior(x)
        scale_tril = posterior.scale_tril
        loc = posterior.loc + self.shift * scale_tril.diagonal(dim1=-2, dim2=-1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.MultivariateNormal(loc, scale_tril=self.widen * scale_tril))


@pytest.mark.parametrize("iw_samples", [1, 1000])
def test_with_the_exact_posterior_elbo_and_iwae_equal_log_px(iw_samples):
    """Every weight p(x, z) / p(z | x) is p(x), so the ELBO and every IWAE_k are log p(x), whatever z is drawn."""
    ppca, x = ppca_and_data()
    exact = ppca.log_marginal(x).detach()
    guide = PPCAPosterior(ppca)
    estimate = log_likelihood(ppca, guide, x, iw_samples=iw_samples, chunk_size=300)
    assert torch.allclose(estimate, exact, rtol=0, atol=1e-10)
    elbo = -Trace_ELBO().loss(ppca, guide, x)  # summed over the data points
    assert elbo == pytest.approx(exact.sum().item(), abs=1e-10)


def test_a_subsampling_plate_or_a_scale_does_not_scale_the_estimate():
    """z ~ N(0, 1), x | z ~ N(z, 1) with the exact posterior q(z | x) = N(x / 2, 1/2): every weight is p(x) =
    N(x; 0, 2). Pyro stores log-densities multiplied by a subsampling plate's N / B (here 2) and by poutine.scale;
    the estimate must use the densities themselves (issue 20: it gave twice log p(x))."""
    x = torch.tensor([-1.0, 0.3, 2.0])

    def model(x):
        with pyro.plate("data", 2 * len(x), subsample=torch.arange(len(x))):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            with pyro.poutine.scale(scale=3.0):
                pyro.sample("x", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", 2 * len(x), subsample=torch.arange(len(x))):
            pyro.sample("z", dist.Normal(x / 2, 0.5 ** 0.5))

    exact = dist.Normal(0.0, 2.0 ** 0.5).log_prob(x)
    assert torch.allclose(log_likelihood(model, guide, x, iw_samples=10), exact, rtol=0, atol=1e-10)


def test_a_deterministic_site_outside_the_data_plate_has_no_density_and_is_skipped():
    """pyro.deterministic records a value, with no density: a pair with one outside the data plate (which every Pyro
    ELBO accepts) is estimated as without it."""
    x = torch.tensor([-1.0, 0.3, 2.0])

    def model(x):
        pyro.deterministic("points", torch.tensor(float(len(x))))
        with pyro.plate("data", len(x)):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", len(x)):
            pyro.sample("z", dist.Normal(x / 2, 0.5 ** 0.5))

    exact = dist.Normal(0.0, 2.0 ** 0.5).log_prob(x)
    assert torch.allclose(log_likelihood(model, guide, x, iw_samples=10), exact, rtol=0, atol=1e-10)


def test_with_a_poor_guide_iwae_rises_with_k_to_log_px():
    """IWAE_k with a mismatched guide, k = 1, 10, 100, 1000, each repeated on REPEATS independent draws.

    With w = p(x, z) / q(z | x) and s^2 = Var(w / p(x)), the spread of the weights: E[IWAE_k] <= log p(x), and its gap
    below log p(x) is s^2 / 2k to first order in 1/k (the delta method; Burda et al. 2015, sec. 3); the test allows up to
    twice that, plus 4 standard errors of the mean of the repeats. s^2 is measured from the k = 1 weights.
    """
    ppca, x = ppca_and_data()
    exact = ppca.log_marginal(x).detach()
    guide = PoorGuide(ppca)
    repeats = 2000
    repeated = x.repeat(repeats, 1)  # each data point REPEATS times: one independent estimate per row
    pyro.set_rng_seed(1)
    means, standard_errors = [], []
    for k in (1, 10, 100, 1000):
        estimates = log_likelihood(ppca, guide, repeated, iw_samples=k, chunk_size=50).view(repeats, POINTS)
        means.append(estimates.mean(0).mean().item())  # averaged over the data points too
        standard_errors.append((estimates.var(0).sum() / repeats).sqrt().item() / POINTS)
        if k == 1:
            relative_weights = (estimates - exact).exp()  # w / p(x), mean 1
            spread = relative_weights.var(0).mean().item()
    target = exact.mean().item()
    assert 0.3 < spread < 30  # a poor guide, but one whose weights have a finite variance
    assert means[0] < target - 10 * standard_errors[0]  # the ELBO is well below log p(x)
    for lower, higher, se_lower, se_higher in zip(means, means[1:], standard_errors, standard_errors[1:]):
        assert higher - lower > 2 * (se_lower**2 + se_higher**2) ** 0.5  # IWAE_k rises with k
    for k, mean, se in zip((10, 100, 1000), means[1:], standard_errors[1:]):
        assert mean < target + 4 * se  # a lower bound
        assert target - mean < spread / k + 4 * se  # within twice its first-order gap


class FixedNoiseNormal(dist.Normal):
    """A Normal whose standard-normal draws of particles are read, in order, from one fixed sequence: the particles
    then do not depend on how the estimator splits them into chunks (torch's sampler gives other numbers for a split
    draw). A draw without the particle dimension (the estimator's probe of the plates) takes none of them."""

    noise = None

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        if len(shape) < 3:
            return self.loc.expand(shape)
        eps, FixedNoiseNormal.noise = FixedNoiseNormal.noise[: shape.numel()], FixedNoiseNormal.noise[shape.numel():]
        return self.loc + self.scale * eps.view(shape)


def fixed_noise_guide(x):
    with pyro.plate("data", x.shape[0]):
        pyro.sample("z", FixedNoiseNormal(0.3 * x[:, :LATENT_DIM], 0.8).to_event(1))


@pytest.mark.parametrize("chunk_size", [1, 7, 20])
def test_chunking_changes_nothing(chunk_size):
    ppca, x = ppca_and_data()
    k = 20
    FixedNoiseNormal.noise = torch.randn(k * POINTS * LATENT_DIM, generator=torch.Generator().manual_seed(5))
    noise = FixedNoiseNormal.noise
    estimate = log_likelihood(ppca, fixed_noise_guide, x, iw_samples=k, chunk_size=chunk_size)
    # the same estimate in one line, from the same particles
    z = 0.3 * x[:, :LATENT_DIM] + 0.8 * noise.view(k, POINTS, LATENT_DIM)
    log_w = (dist.Normal(0, 1).log_prob(z).sum(-1)
             + dist.Normal(z @ ppca.weight.T + ppca.bias, ppca.log_sigma.exp()).log_prob(x).sum(-1)
             - dist.Normal(0.3 * x[:, :LATENT_DIM], 0.8).log_prob(z).sum(-1))
    expected = log_w.logsumexp(0) - math.log(k)
    assert torch.allclose(estimate, expected.detach(), rtol=0, atol=1e-10)


def test_the_iwae_training_bound_is_the_evaluated_one():
    """RenyiELBO(alpha=0) on k vectorized particles (--elbo iwae) estimates the same bound as log_likelihood(k)."""
    ppca, x = ppca_and_data()
    guide, k, repeats = PoorGuide(ppca), 10, 400
    pyro.set_rng_seed(2)
    renyi = RenyiELBO(alpha=0, num_particles=k, vectorize_particles=True)
    with torch.no_grad():
        trained = torch.tensor([-renyi.loss(ppca, guide, x) for _ in range(repeats)])  # sums over the points
    evaluated = log_likelihood(ppca, guide, x.repeat(repeats, 1), iw_samples=k).view(repeats, POINTS).sum(1)
    se = (trained.var() / repeats + evaluated.var() / repeats).sqrt()
    assert abs(trained.mean() - evaluated.mean()) < 4 * se


# A mixture with a closed-form likelihood: y ~ Categorical(weights), z | y ~ Normal(means[y], 1), x | z ~ Normal(z, s^2),
# so p(x) = sum_y weights[y] Normal(x; means[y], 1 + s^2) and p(z | x, y) is Gaussian.
WEIGHTS = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
MEANS, NOISE = torch.tensor([-3.0, 0.0, 4.0], dtype=torch.float64), 0.5


def mixture_model(x):
    with pyro.plate("data", x.shape[0]):
        y = pyro.sample("y", dist.Categorical(WEIGHTS))
        z = pyro.sample("z", dist.Normal(MEANS[y], 1.0))
        pyro.sample("x", dist.Normal(z, NOISE), obs=x)


def mixture_log_px(x):
    components = dist.Normal(MEANS, (1 + NOISE**2) ** 0.5).log_prob(x.unsqueeze(-1))
    return (WEIGHTS.log() + components).logsumexp(-1)


def posterior_given(x, y_means):
    """p(z | x, y): the product of Normal(z; mean_y, 1) and Normal(x; z, s^2), one Gaussian."""
    variance = 1 / (1 + NOISE**-2)
    return variance * (y_means + x / NOISE**2), variance**0.5


def guide_enumerating_y(x):
    with pyro.plate("data", x.shape[0]):
        responsibilities = dist.Normal(MEANS, (1 + NOISE**2) ** 0.5).log_prob(x.unsqueeze(-1)) + WEIGHTS.log()
        y = pyro.sample("y", dist.Categorical(logits=0.5 * responsibilities), infer={"enumerate": "parallel"})
        pyro.sample("z", dist.Normal(*posterior_given(x, MEANS[y])))


def guide_for_z_only(x):
    """The exact p(z | x) with y summed out: a mixture of the Gaussians p(z | x, y) weighted by p(y | x)."""
    with pyro.plate("data", x.shape[0]):
        loc, scale = posterior_given(x.unsqueeze(-1), MEANS)
        p_y_given_x = dist.Categorical(logits=WEIGHTS.log() + dist.Normal(MEANS, (1 + NOISE**2) ** 0.5).log_prob(
            x.unsqueeze(-1)))
        pyro.sample("z", dist.MixtureSameFamily(p_y_given_x, dist.Normal(loc, scale)))


@pytest.mark.parametrize("where", ["model", "guide"])
def test_enumerated_discrete_latent_gives_the_closed_form(where):
    """y summed exactly: in the model (guide over z alone), or in the guide (q(y | x) deliberately not the posterior;
    each y gets its own particles of z from the exact p(z | x, y)). Either way every estimate is log p(x)."""
    x = torch.tensor([-4.0, -1.0, 0.5, 2.0, 6.0])
    if where == "model":
        model, guide = config_enumerate(mixture_model), guide_for_z_only
    else:
        model, guide = mixture_model, guide_enumerating_y
    pyro.set_rng_seed(3)
    estimate = log_likelihood(model, guide, x, iw_samples=50, chunk_size=20)
    assert torch.allclose(estimate, mixture_log_px(x), rtol=0, atol=1e-10)


def test_plates_nested_in_the_data_plate_are_multiplied_out():
    """Per data point, y ~ Categorical(weights) and REPEATS observations in a nested plate: u_i | y ~ Normal(means[y],
    1), which depend on the enumerated y (summed by the contraction), and v_i ~ Normal(0, 1), which do not (added
    directly): log p(u, v) = log sum_y weights[y] prod_i Normal(u_i; means[y], 1) + sum_i log Normal(v_i; 0, 1)."""
    u = torch.tensor([[-3.5, -2.0, -3.0], [0.5, 0.0, -0.3], [4.0, 3.0, 5.0], [0.0, 2.0, 4.0]])
    v = torch.tensor([[0.1, 0.2, 0.3], [1.0, 0.0, -1.0], [0.0, 0.0, 0.0], [2.0, 0.5, 0.0]])

    @config_enumerate
    def model(u, v):
        with pyro.plate("data", len(u), dim=-2):
            y = pyro.sample("y", dist.Categorical(WEIGHTS))
            with pyro.plate("repeats", u.shape[1], dim=-1):
                pyro.sample("u", dist.Normal(MEANS[y], 1.0), obs=u)
                pyro.sample("v", dist.Normal(0.0, 1.0), obs=v)

    def guide(u, v):
        """No latent site left to infer: y is summed in the model."""

    components = dist.Normal(MEANS, 1.0).log_prob(u.unsqueeze(-1)).sum(1)  # (data points, values of y)
    exact = (WEIGHTS.log() + components).logsumexp(-1) + dist.Normal(0.0, 1.0).log_prob(v).sum(1)
    estimate = log_likelihood(model, guide, u, v, iw_samples=3, chunk_size=2)
    assert torch.allclose(estimate, exact, rtol=0, atol=1e-10)


def test_a_guide_that_enumerates_inside_a_plate_nested_in_the_data_plate_is_refused_with_one_line():
    """The README's limit, as a clear error rather than a wrong number (issue 20): one enumerated value per data
    point can be summed outside the log-mean-exp; a value per element of a nested plate cannot."""
    u = torch.tensor([[-3.5, -2.0, -3.0], [0.5, 0.0, -0.3]])

    def model(u):
        with pyro.plate("data", len(u), dim=-2), pyro.plate("repeats", u.shape[1], dim=-1):
            y = pyro.sample("y", dist.Categorical(WEIGHTS))
            pyro.sample("u", dist.Normal(MEANS[y], 1.0), obs=u)

    @config_enumerate
    def guide(u):
        with pyro.plate("data", len(u), dim=-2), pyro.plate("repeats", u.shape[1], dim=-1):
            pyro.sample("y", dist.Categorical(WEIGHTS))

    with pytest.raises(ValueError, match="the guide enumerates site 'y' inside a plate nested in 'data'"):
        log_likelihood(model, guide, u, iw_samples=3)
