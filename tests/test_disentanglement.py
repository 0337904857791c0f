"""The disentanglement scores on codes whose answer is known: the factors themselves (1), a rotation of them (low),
noise (near 0; the FactorVAE score near chance)."""
import itertools
import math

import pytest
import torch

from ppl_vae import disentanglement

LEVELS = (3, 4, 5, 6)
REPEATS = 10  # the full grid of factor values, each combination this many times: 3600 points


@pytest.fixture
def factors():
    grid = torch.tensor(list(itertools.product(*(range(n) for n in LEVELS))))
    return grid.repeat(REPEATS, 1)


def permuted(factors):
    """A code that is the factors in another order, each scaled and shifted: perfectly disentangled."""
    order = [2, 0, 3, 1]
    return factors[:, order].double() * torch.tensor([0.5, -2.0, 3.0, 1.0]) + 7.0


def rotated(factors):
    """The standardized factors under the rotation that mixes most, a Hadamard matrix over 2: every unit is an
    equal-weight mix of all four factors."""
    standardized = (factors.double() - factors.double().mean(0)) / factors.double().std(0)
    hadamard = torch.tensor([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=torch.double)
    return standardized @ hadamard / 2


def noise(factors):
    return torch.randn(len(factors), 4, generator=torch.Generator().manual_seed(2), dtype=torch.double)


def test_mutual_information_of_a_variable_with_itself_is_its_entropy_and_of_independent_ones_zero(factors):
    assert disentanglement.mutual_information(factors[:, 3], factors[:, 3]) == pytest.approx(math.log(6))
    assert disentanglement.mutual_information(factors[:, 0], factors[:, 3]) == pytest.approx(0.0, abs=1e-12)


def test_a_permuted_code_scores_one_on_every_measure(factors):
    code = permuted(factors)
    assert disentanglement.mig(code, factors) == pytest.approx(1.0)
    assert disentanglement.sap(code, factors) == pytest.approx(1.0)
    assert disentanglement.factor_vae_score(code, factors) == 1.0
    # each factor's trees split on its own unit only: all importance on the diagonal, and every test point right
    assert disentanglement.dci(code, factors) == pytest.approx(
        {"dci_disentanglement": 1.0, "dci_completeness": 1.0, "dci_informativeness": 1.0})


def test_a_rotated_code_scores_low(factors):
    # every unit holds the same information about each factor (they differ by the signs of symmetric factors),
    # so the gaps vanish and no unit is quieter than another when one factor is fixed
    code = rotated(factors)
    assert disentanglement.mig(code, factors) == pytest.approx(0.0, abs=1e-9)
    assert disentanglement.sap(code, factors) == pytest.approx(0.0, abs=1e-9)
    assert disentanglement.factor_vae_score(code, factors) < 0.25 + 5 * 0.015  # chance, as for noise below
    # the trees need every unit for every factor: importance spread evenly, so neither disentangled nor complete;
    # but the rotation loses nothing, and DCI's informativeness (unlike noise's below) says so
    scores = disentanglement.dci(code, factors)
    assert scores["dci_disentanglement"] < 0.01 and scores["dci_completeness"] < 0.01
    assert scores["dci_informativeness"] > 0.99


def test_noise_scores_near_zero_and_the_factor_vae_score_near_chance(factors):
    code = noise(factors)
    # the plug-in MI of independent variables is biased up by about (bins - 1)(levels - 1) / 2N nats (Miller-Madow):
    # under 0.02 nats here, against entropies of log 3 and more
    bias = (disentanglement.BINS - 1) * (max(LEVELS) - 1) / (2 * len(factors))
    assert disentanglement.mig(code, factors) < 2 * bias / math.log(min(LEVELS))
    # R^2 of independent variables is about 1/N each
    assert disentanglement.sap(code, factors) < 10 / len(factors)
    # 800 test votes, chance 1/4: its binomial sd is 0.015; the classifier's fit on 800 training votes adds a little
    assert disentanglement.factor_vae_score(code, factors) < 0.25 + 5 * 0.015
    # DCI: informativeness at chance, the mean of 1 / levels, within 3 sd of the mean of four binomial accuracies
    # on the 1 200 test points; importance spread evenly, its purity's deficit quadratic in the spread
    scores = disentanglement.dci(code, factors)
    chance = sum(1 / n for n in LEVELS) / len(LEVELS)
    sd = math.sqrt(sum((1 / n) * (1 - 1 / n) for n in LEVELS) / len(factors) * 3) / len(LEVELS)
    assert abs(scores["dci_informativeness"] - chance) < 3 * sd
    assert scores["dci_disentanglement"] < 0.02 and scores["dci_completeness"] < 0.02


def test_mig_from_the_posteriors_ignores_a_unit_whose_posterior_is_the_prior(factors):
    """Chen et al.'s MIG reads I(z_j; v_k) from q(z | x): a unit whose q is N(0, 1) for every point but for a mean
    moved by a millionth with a factor holds next to nothing; a unit that is a factor with a small spread holds
    about all of H(v_k). The histogram MIG of the means, blind to the spread, finds each factor twice, in the
    informative unit and in the wobbling one: a gap of 0."""
    n = len(factors)
    loc = torch.cat([permuted(factors), 1e-6 * factors[:, [1, 0, 3, 2]].double()], dim=1)
    scale = torch.cat([torch.full((n, 4), 0.01), torch.ones(n, 4)], dim=1).double()
    information = disentanglement.posterior_information_matrix(loc, scale, factors)
    assert information[4:].abs().max() < 1e-3  # the prior-like units
    entropies = torch.tensor([math.log(n) for n in LEVELS], dtype=torch.double)
    assert torch.allclose(information[[1, 3, 0, 2]].diagonal(), entropies, atol=0.02)  # the factors, each whole
    assert disentanglement.mig_of(information, factors) > 0.98
    assert disentanglement.mig(loc, factors) < 1e-6


def test_mi_from_the_posteriors_at_a_sample_of_draws_is_the_exact_mi_within_its_noise():
    """Chen et al.'s estimate with the aggregate over all points and each entropy at `samples` of their draws (as
    their code scores all of dSprites), on a code whose information is known: unit u's q(z_u | x) is Normal(mean
    of the point's two factors, sd), so q(z_u) and q(z_u | v_k) are equal mixtures of Normals whose entropies, and
    the variance of -log q at a draw, quadrature gives to 1e-9. Each estimate lies within 4 standard errors of the
    exact I(z_u; v_k)."""
    levels, repeats, samples = (4, 3), 500, 1000
    grid = torch.tensor(list(itertools.product(*(range(n) for n in levels))))
    factors = grid.repeat(repeats, 1)
    # per unit: its mean for each (v_0, v_1) and its sd; unit 1 is the prior for every point (no information)
    means = torch.stack([grid[:, 0] + 0.5 * grid[:, 1], 0 * grid[:, 0], 2.0 * grid[:, 1] - 0.3 * grid[:, 0]], 1)
    sds = torch.tensor([0.4, 1.0, 0.5], dtype=torch.double)
    means = means.double().reshape(*levels, 3)
    loc = means.reshape(-1, 3).repeat(repeats, 1)
    information = disentanglement.posterior_information_matrix(loc, sds.expand_as(loc), factors, samples=samples)
    z = torch.linspace(-8, 14, 40001, dtype=torch.double)

    def entropy_and_variance(unit_means, sd):  # of -log q(z) for q the equal mixture of Normal(m, sd), m in unit_means
        q = torch.distributions.Normal(unit_means.reshape(-1, 1), sd).log_prob(z).exp().mean(0)
        mass, surprise = q * (z[1] - z[0]), -q.clamp_min(1e-300).log()
        entropy = (mass * surprise).sum()
        return entropy, (mass * (surprise - entropy) ** 2).sum()

    for u in range(3):
        h, var = entropy_and_variance(means[..., u], sds[u])
        for k, n in enumerate(levels):
            parts = [entropy_and_variance(means[..., u].select(k, value), sds[u]) for value in range(n)]
            exact = h - sum(part[0] for part in parts) / n
            # the marginal's and each conditional's draws are drawn apart: their variances add
            se = math.sqrt(var / samples + sum(part[1] for part in parts) / (n ** 2 * samples))
            assert abs(information[u, k] - exact) < 4 * se, (u, k, float(information[u, k]), float(exact), se)
    assert information[0, 0] > 0.5 and information[2, 1] > 0.9  # informative units, so the check is not vacuous
