"""Disentanglement scores of a code z (N x D, e.g. the means of q(z | x)) against known factors v (N x K, integer):
MIG (Chen et al. 2018), SAP (Kumar et al. 2018), the FactorVAE score (Kim & Mnih 2018) and DCI (Eastwood & Williams
2018). Each is 1 for a code that is the factors themselves, in any order and scale, and near 0 (the FactorVAE score
and DCI's informativeness: near chance) for noise."""
import math

import torch
from sklearn.ensemble import GradientBoostingClassifier

from .evaluate import histogram_entropy

BINS = 20  # codes are discretized into this many equal-width bins for MIG, as disentanglement_lib does


def discretized(codes, bins=BINS):
    """Each code unit's values as bin numbers 0..bins-1 over its own range."""
    low, high = codes.min(0).values, codes.max(0).values
    scaled = (codes - low) / (high - low).clamp_min(1e-12)
    return (scaled * bins).long().clamp(max=bins - 1)


def entropy(labels):
    """H(labels) in nats, of the empirical distribution of integer labels."""
    return histogram_entropy(torch.bincount(labels))


def mutual_information(a, b):
    """I(a; b) in nats of two integer label vectors, from their joint histogram: H(a) + H(b) - H(a, b)."""
    joint = a * (int(b.max()) + 1) + b
    return entropy(a) + entropy(b) - entropy(joint)


def information_matrix(codes, factors):
    """I(z_j; v_k) for every code unit j and factor k (D x K, nats), the code discretized."""
    bins = discretized(codes)
    return torch.stack([torch.stack([mutual_information(bins[:, j], factors[:, k])
                                     for k in range(factors.shape[1])]) for j in range(codes.shape[1])])


def mig(codes, factors):
    """Mutual information gap: per factor, the gap between the two units most informative about it, over H(v_k);
    averaged over factors (Chen et al. 2018, eq. 6)."""
    return mig_of(information_matrix(codes, factors), factors)


def posterior_entropies(loc, scale, draws, budget=2 ** 25):
    """H(z_j) of the aggregate posterior of the given points, (1/n) sum_m q(z_j | x_m), per unit j, estimated at
    draws z_i of it: -mean_i log (1/n) sum_m Normal(z_ij; loc_mj, scale_mj); in chunks of draws of about `budget`
    terms, so that n may be every image of dSprites."""
    log_normalizer = scale.log() + 0.5 * math.log(2 * math.pi)
    total = 0.0
    for rows in draws.split(max(1, budget // loc.numel())):
        log_q = ((rows[:, None, :] - loc) / scale).square_().mul_(-0.5).sub_(log_normalizer)  # (rows, n, units)
        total = total - (log_q.logsumexp(1) - math.log(len(loc))).double().sum(0)
    return total / len(draws)


def posterior_information_matrix(loc, scale, factors, generator=None, samples=None, dtype=torch.double):
    """I(z_j; v_k) = H(z_j) - sum_v p(v) H(z_j | v_k = v) for every unit j and factor k (D x K, nats), with the
    entropies of q(z_j) and of q(z_j | v_k = v), the posteriors averaged over all points or over those sharing the
    value, estimated at one draw of q(z | x) per point (Chen et al. 2018, sec. 5). A unit whose posterior is the
    same for every point holds no information, however its mean moves. With `samples`, each entropy is estimated at
    that many of its points' draws, picked at random, against the aggregate of all its points, as Chen et al.'s code
    does (10 000 draws) on all 737 280 images of dSprites. The aggregate measured is that of the points given: of a
    sample of n points it is lumpier than the population's, its entropies lower in expectation (entropy is
    concave), typically the most those of the conditionals over about n / levels points, so the MI reads high."""
    generator = generator or torch.Generator().manual_seed(0)
    loc, scale = loc.to(dtype), scale.to(dtype)
    draws = loc + scale * torch.randn(loc.shape, generator=generator, dtype=loc.dtype)

    def entropies(points):
        chosen = draws[points]
        if samples is not None and samples < len(chosen):
            chosen = chosen[torch.randperm(len(chosen), generator=generator)[:samples]]
        return posterior_entropies(loc[points], scale[points], chosen)

    marginal = entropies(slice(None))
    columns = []
    for k in range(factors.shape[1]):
        conditional = 0.0
        for value in factors[:, k].unique():
            sharing = factors[:, k] == value
            conditional = conditional + sharing.double().mean() * entropies(sharing)
        columns.append(marginal - conditional)
    return torch.stack(columns, dim=1)


def mig_of(information, factors):
    """The mean over factors of the gap between the two units most informative about it, over its entropy."""
    top = information.topk(2, dim=0).values
    return float(((top[0] - top[1]) / factor_entropies(factors)).mean())


def factor_entropies(factors):
    """H(v_k) of each factor, nats."""
    return torch.stack([entropy(factors[:, k]) for k in range(factors.shape[1])])


def sap(codes, factors):
    """Separated attribute predictability: per factor, the gap between the two units that predict it best, the
    prediction score being the R^2 of a linear fit of the factor on one unit (Kumar et al. 2018, sec. 3, the
    continuous-factor form), averaged over factors."""
    z = codes - codes.mean(0)
    v = factors.double() - factors.double().mean(0)
    covariance = z.double().T @ v / len(z)
    r2 = covariance ** 2 / (z.double().var(0, unbiased=False)[:, None] * v.var(0, unbiased=False)[None, :])
    top = r2.nan_to_num(0.0).topk(2, dim=0).values
    return float((top[0] - top[1]).mean())


def factor_vae_score(codes, factors, votes=800, batch=64, generator=None):
    """Kim & Mnih 2018, sec. 4: fix one factor at a random value, take `batch` points that share it, and vote for the
    (code unit of least variance, fixed factor), the code scaled by its standard deviation over all the data and
    collapsed units (sd < 0.05 of the largest) left out; the score is the accuracy of the majority-vote classifier
    (each unit predicts the factor it voted for most), trained on `votes` votes and measured on as many more."""
    generator = generator or torch.Generator().manual_seed(0)
    scale = codes.std(0)
    active = scale > 0.05 * scale.max()
    scaled = codes[:, active] / scale[active]
    num_factors = factors.shape[1]

    def vote():
        k = int(torch.randint(num_factors, (), generator=generator))
        value = factors[int(torch.randint(len(factors), (), generator=generator)), k]
        sharing = (factors[:, k] == value).nonzero().squeeze(1)
        chosen = sharing[torch.randint(len(sharing), (batch,), generator=generator)]
        return int(scaled[chosen].var(0).argmin()), k

    counts = torch.zeros(scaled.shape[1], num_factors)
    for _ in range(votes):
        counts[vote()] += 1
    predicted = counts.argmax(1)
    return sum(int(predicted[unit]) == k for unit, k in (vote() for _ in range(votes))) / votes


def dci(codes, factors, generator=None):
    """Eastwood & Williams 2018, as disentanglement_lib computes it: for each factor, gradient-boosted trees
    (scikit-learn's defaults) predict it from the code, fitted on two thirds of the points (drawn at random) and
    scored on the rest. Unit j's importance for factor k, R[j, k], gives disentanglement, each unit's 1 - H(R[j, :])
    / log K weighted by the unit's share of all the importance, and completeness, each factor's 1 - H(R[:, k]) /
    log D weighted by the factor's share; informativeness is the mean test accuracy (chance: 1 / levels)."""
    generator = generator or torch.Generator().manual_seed(0)
    order = torch.randperm(len(codes), generator=generator)
    train, test = order[: 2 * len(codes) // 3].numpy(), order[2 * len(codes) // 3 :].numpy()
    z, v = codes.detach().double().cpu().numpy(), factors.cpu().numpy()
    importance, accuracy = [], []
    for k in range(v.shape[1]):
        trees = GradientBoostingClassifier(random_state=0).fit(z[train], v[train, k])
        importance.append(torch.as_tensor(trees.feature_importances_))
        accuracy.append(trees.score(z[test], v[test, k]))
    importance = torch.stack(importance, dim=1)  # units x factors

    def weighted_purity(rows):  # sum_i share_i (1 - H(row_i) / log(len(row_i))); a row of no importance weighs 0
        purity = 1 - torch.stack([histogram_entropy(row) for row in rows]) / math.log(rows.shape[1])
        return float((purity * rows.sum(1) / rows.sum()).nan_to_num(0.0).sum())

    return {"dci_disentanglement": weighted_purity(importance), "dci_completeness": weighted_purity(importance.T),
            "dci_informativeness": sum(accuracy) / len(accuracy)}


def scores(codes, factors, names, scale=None):
    """Every score of a code (the means of q(z | x)) against the factors named `names`; MIG also without the shape
    factor, where there is one, since implementations differ on counting it (its levels are categories, not an
    ordered scale). With `scale`, the standard deviations of a Gaussian q(z | x), also Chen et al.'s MIG from the
    posteriors (mig_posterior), with and without shape."""
    results = {"mig": mig(codes, factors), "sap": sap(codes, factors),
               "factor_vae_score": factor_vae_score(codes, factors), **dci(codes, factors)}
    kept = [k for k, name in enumerate(names) if name != "shape"]
    without_shape = 0 < len(kept) < len(names)
    if without_shape:
        results["mig_without_shape"] = mig(codes, factors[:, kept])
    if scale is not None:
        information = posterior_information_matrix(codes, scale, factors)
        results["mig_posterior"] = mig_of(information, factors)
        if without_shape:
            results["mig_posterior_without_shape"] = mig_of(information[:, kept], factors[:, kept])
    return results
