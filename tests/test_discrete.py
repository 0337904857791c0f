"""Discrete latents: the categorical VAE and its temperature schedule, the Gaussian mixture summed out by enumeration,
the VQ-VAE's straight-through gradient, codebook and PixelCNN prior; their evaluation."""
import copy
from functools import partial

import math
from itertools import permutations, product

import pyro
import pyro.distributions as dist
import pytest
import torch

import helpers
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceEnum_ELBO

from ppl_vae.models.categorical import temperature
from ppl_vae.models.mixture import PretrainingConfig, clusters_from_codes, code, kmeans
from ppl_vae.models.vqvae import Codebook
from ppl_vae import rundir
from ppl_vae.cli import main
from ppl_vae.evaluate import best_matching, cluster_accuracy, code_usage, log_likelihood, log_weights
from ppl_vae.nets import pixelcnn
from ppl_vae.data import DataConfig, Dataset, intensities
from ppl_vae.nets import diagonal_normal
from ppl_vae.train import TrainConfig, fit, make_optimizer, pretrain_epoch
from ppl_vae.runs import load_run, pair
from helpers import latent_sites

DIM = 12
SIDE = 8  # the VQ-VAE's images: 8 x 8, a 2 x 2 grid of codes


binary_batch = partial(helpers.binary_batch, n=5, dim=DIM)


def small_categorical(**kwargs):
    pyro.set_rng_seed(0)
    return pair("categorical", (DIM,), variables=2, classes=3, hidden=[16], **kwargs)


def small_mixture():
    pyro.set_rng_seed(0)
    return pair("gmvae", (DIM,), clusters=3, latent=2, hidden=[16])


def small_vqvae(**kwargs):
    pyro.set_rng_seed(0)
    return pair("vqvae", (SIDE, SIDE), codes=6, code_dim=3, channels=[4, 8], prior_width=8, prior_layers=2, **kwargs)


@pytest.mark.parametrize("build, dim, sites", [
    (small_categorical, DIM, {"z": ((5, 2, 3), (2, 3))}),
    (small_mixture, DIM, {"y": ((5, 3), (3,)), "z": ((5, 2), (2,))}),
    (small_vqvae, SIDE * SIDE, {"code": ((5, 2, 2), (2, 2)), "z_q": ((5, 3, 2, 2), (3, 2, 2))}),
])
@pytest.mark.parametrize("training", [True, False])
def test_every_latent_site_of_the_model_has_a_guide_site_of_the_same_shape(build, dim, sites, training):
    model, guide = build()
    model.train(training)
    guide.train(training)
    x = binary_batch(dim=dim)
    expected = {site: (torch.Size(value), torch.Size(event)) for site, (value, event) in sites.items()}
    assert latent_sites(poutine.trace(guide).get_trace(x)) == expected
    assert latent_sites(poutine.trace(model).get_trace(x)) == expected


def test_the_categorical_pair_is_relaxed_in_training_and_discrete_in_evaluation():
    model, guide = small_categorical()
    x = binary_batch()
    z = poutine.trace(guide).get_trace(x).nodes["z"]["value"]
    assert ((z > 0) & (z < 1)).all()  # a point inside the simplex
    model.eval()
    guide.eval()
    z = poutine.trace(guide).get_trace(x).nodes["z"]["value"]
    assert set(z.unique().tolist()) == {0.0, 1.0} and (z.sum(-1) == 1).all()


def test_the_straight_through_decoder_reads_one_hot_vectors_and_passes_a_gradient_to_the_encoder():
    model, guide = small_categorical(straight_through=True)
    x = binary_batch()
    z = poutine.trace(guide).get_trace(x).nodes["z"]["value"]
    assert ((z > 0) & (z < 1)).all()  # the site holds the relaxed sample, which the densities score
    decoded = model.one_hot.decoded(z)
    assert set(decoded.unique().tolist()) == {0.0, 1.0} and (decoded.argmax(-1) == z.argmax(-1)).all()
    Trace_ELBO().loss_and_grads(model, guide, x)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in guide.encoder.parameters())


def test_the_categorical_models_log_likelihood_is_the_sum_over_its_discrete_latents():
    """With 2 variables of 3 classes, p(x) sums 9 terms exactly. The importance-weighted estimate with the discrete
    guide (eval mode) must agree within 4 of its standard errors, which the weights themselves give (delta method:
    sd(w) / (mean(w) sqrt(k)) on the log scale)."""
    model, guide = small_categorical()
    model.eval()
    guide.eval()
    x = binary_batch(n=3)
    with torch.no_grad():
        exact = []
        for values in product(range(3), repeat=2):
            z = torch.nn.functional.one_hot(torch.tensor(values), 3).float()
            logits = model.decoder(z.flatten())
            exact.append(dist.Bernoulli(logits=logits).log_prob(x).sum(-1) - 2 * math.log(3))
        exact = torch.stack(exact).logsumexp(0)
        pyro.set_rng_seed(3)
        k = 20000
        estimate = log_likelihood(model, guide, x, iw_samples=k)
        w = log_weights(model, guide, (x,), {}, k, 1, "data")[0].double().exp()
    standard_error = w.std(0) / (w.mean(0) * math.sqrt(k))
    assert ((estimate - exact).abs() < 4 * standard_error).all()
    assert (standard_error < 0.01).all()  # so that the test can fail


def test_the_temperature_schedule_gives_the_stated_values():
    def tau(step):
        return temperature(step, start=1.0, minimum=0.5, rate=3e-5, every=1000)

    assert tau(0) == tau(999) == 1.0
    assert tau(1000) == pytest.approx(math.exp(-0.03)) and tau(1999) == tau(1000)
    assert tau(23000) == pytest.approx(math.exp(-0.69))  # 0.5016: above the floor
    assert tau(24000) == 0.5 and tau(10**6) == 0.5  # exp(-0.72) = 0.487, floored


def test_training_sets_the_temperature_at_each_step_and_logs_it(tmp_path):
    """300 images in batches of 100: steps 0-2 in epoch 1, 3-5 in epoch 2; the temperature exp(-0.1 t), t updated
    every 2 steps, is logged after each epoch's last step; a resumed run ends with the same numbers."""
    flags = ["--model", "categorical", "--variables", "4", "--hidden", "32", "--subset", "300", "--anneal-rate",
             "0.1", "--anneal-every", "2", "--runs-dir", str(tmp_path)]
    assert main(["train", *flags, "--epochs", "2", "--name", "straight"]) == 0
    metrics = rundir.read_metrics(tmp_path / "straight")
    assert [m["temperature"] for m in metrics] == pytest.approx([math.exp(-0.2), math.exp(-0.4)])
    assert main(["train", *flags, "--epochs", "1", "--name", "resumed"]) == 0
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--epochs", "2"]) == 0
    resumed = rundir.read_metrics(tmp_path / "resumed")
    for key in ("train_elbo", "valid_elbo", "temperature"):
        assert resumed[-1][key] == pytest.approx(metrics[-1][key], rel=1e-6)


def test_the_enumerated_sum_over_the_mixture_equals_the_explicit_sum():
    """TraceEnum_ELBO sums the ELBO over the clusters; the explicit sum over y of q(y | x) [log p(y) + log p(z_y | y)
    + log p(x | z_y) - log q(y | x) - log q(z_y | x, y)], at the same draws z_y (the same seed), must equal it."""
    model, guide = small_mixture()
    x = binary_batch()
    pyro.set_rng_seed(5)
    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide, x)
    pyro.set_rng_seed(5)
    enumerated = poutine.trace(poutine.enum(guide, first_available_dim=-2)).get_trace(x)
    z = enumerated.nodes["z"]["value"]  # (clusters, images, latent): one draw for each cluster
    with torch.no_grad():
        total = 0.0
        for c in range(3):
            y = torch.nn.functional.one_hot(torch.tensor(c), 3).float().expand(len(x), 3)
            log_q_y = dist.OneHotCategorical(logits=guide.classifier(x)).log_prob(y)
            q_z = poutine.trace(guide).get_trace(x, y).nodes["z"]["fn"]
            p_y = dist.OneHotCategorical(logits=model.cluster_logits).log_prob(y)
            p_z = dist.Normal(model.cluster_locs[c], model.cluster_log_scales[c].exp()).log_prob(z[c]).sum(-1)
            p_x = dist.Bernoulli(logits=model.decoder(z[c])).log_prob(x).sum(-1)
            total += (log_q_y.exp() * (p_y + p_z + p_x - log_q_y - q_z.log_prob(z[c]))).sum()
    assert -loss == pytest.approx(total.item(), rel=1e-5)


def test_best_matching_is_the_best_one_to_one_map():
    def by_brute_force(counts):  # every injective map of the shorter side into the longer
        if len(counts) > len(counts[0]):
            counts = [list(column) for column in zip(*counts)]
        return max(sum(counts[r][c] for r, c in enumerate(columns))
                   for columns in permutations(range(len(counts[0])), len(counts)))

    generator = torch.Generator().manual_seed(0)
    for rows, columns in [(4, 4), (3, 5), (5, 3), (6, 6)]:
        counts = torch.randint(0, 20, (rows, columns), generator=generator).tolist()
        assert best_matching(counts) == by_brute_force(counts)


def test_cluster_accuracy_ignores_the_names_of_the_clusters():
    """A guide whose y is the label, renamed by a permutation, is perfectly accurate as clusters; merging two
    labels' images into one cluster loses the smaller of them."""
    labels = torch.arange(10).repeat(5)
    labels[:3] = 1  # label 1 is the larger of 0 and 1

    def guide(x, relabel):
        with pyro.plate("data", len(x)):
            pyro.sample("y", dist.OneHotCategorical(probs=torch.nn.functional.one_hot(relabel[labels], 10).float()))

    renamed = torch.tensor([3, 7, 0, 1, 9, 2, 8, 4, 6, 5])
    assert cluster_accuracy(lambda x: guide(x, renamed), labels[:, None], labels) == 1.0
    merged = renamed.clone()
    merged[0] = merged[1]  # labels 0 and 1 in one cluster
    assert cluster_accuracy(lambda x: guide(x, merged), labels[:, None], labels) == 1 - (labels == 0).sum() / 50


def test_many_to_one_matching_lets_several_clusters_share_a_label_and_never_scores_below_one_to_one():
    """One label's images split over two clusters: one-to-one can credit only one of them, many-to-one both;
    merging two labels into one cluster costs both matchings the smaller label."""
    labels = torch.arange(10).repeat(5)
    clusters = labels.clone()
    clusters[labels == 0] = torch.tensor([0, 0, 0, 10, 10])  # label 0 over clusters 0 and 10

    def guide(x):
        with pyro.plate("data", len(x)):
            pyro.sample("y", dist.OneHotCategorical(probs=torch.nn.functional.one_hot(clusters, 11).float()))

    assert cluster_accuracy(guide, labels[:, None], labels, many_to_one=True) == 1.0
    assert cluster_accuracy(guide, labels[:, None], labels) == 48 / 50
    clusters[labels == 1] = 2  # labels 1 and 2 in one cluster
    assert cluster_accuracy(guide, labels[:, None], labels, many_to_one=True) == 45 / 50


def test_code_usage_and_perplexity_on_a_constructed_case():
    def guide(codes):
        with pyro.plate("data", len(codes)):
            pyro.sample("code", dist.Delta(codes, event_dim=2))

    half_and_quarters = torch.tensor([[[0, 0], [1, 2]], [[0, 0], [1, 2]]])  # p = 1/2, 1/4, 1/4 over 3 of 8 codes
    assert code_usage(guide, [(half_and_quarters,)], 8) == (3, pytest.approx(2 ** 1.5))
    every = torch.arange(8).reshape(2, 2, 2)
    assert code_usage(guide, [(every[:1],), (every[1:],)], 8) == (8, pytest.approx(8.0))


def test_the_straight_through_estimator_copies_the_decoders_gradient_to_the_encoder():
    """With the commitment term weighted 0, the encoder learns only through the straight-through estimator: its
    gradient is the decoder's gradient at z_q = e (a leaf here) pushed back through the encoder, exactly. (Eval
    mode, so that the step leaves the codebook as it was: in training the guide restarts unused codes.)"""
    model, guide = small_vqvae(commitment=0.0, code_prior="uniform")
    guide.eval()
    x = binary_batch(dim=SIDE * SIDE)
    Trace_ELBO().loss_and_grads(model, guide, x)
    through_elbo = [p.grad.clone() for p in guide.encoder.parameters()]
    z_e = guide.encoder(x)
    e = guide.codebook(guide.codebook.nearest(z_e)).detach().requires_grad_()
    reconstruction = dist.Bernoulli(logits=model.decoder(e)).log_prob(x).sum()
    (d_e,) = torch.autograd.grad(-reconstruction, e)
    by_hand = torch.autograd.grad(z_e, list(guide.encoder.parameters()), grad_outputs=d_e)
    assert any(g.abs().sum() > 0 for g in by_hand)
    for a, b in zip(through_elbo, by_hand):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_the_moving_average_codebook_moves_to_the_mean_of_its_encoder_outputs_and_restarts_unused_codes():
    codebook = Codebook(3, 2, ema_decay=0.0, restart_below=0.5)
    z_e = torch.tensor([[1.0, 2.0, 3.0, 10.0], [0.0, 0.0, 0.0, 10.0]]).reshape(1, 2, 2, 2)  # 4 positions of D = 2
    code = torch.tensor([[0, 0], [0, 1]])  # (1, 2), (2, 0), (3, 0) chose code 0; (10, 10) code 1; none code 2
    torch.manual_seed(0)
    codebook.update(z_e, code)
    assert torch.allclose(codebook.vectors[0], torch.tensor([2.0, 0.0]), atol=1e-4)
    assert torch.allclose(codebook.vectors[1], torch.tensor([10.0, 10.0]), atol=1e-4)
    positions = z_e.movedim(1, -1).reshape(-1, 2)
    assert (codebook.vectors[2] == positions).all(-1).any()  # unused: moved onto one of the batch's outputs


def test_the_pixelcnn_reads_only_the_codes_before_each_position():
    """The logits at (i, j) have zero gradient with respect to the input at (i, j) and every position after it in
    raster order, and (with 3 layers of 3 x 3 masks) a nonzero one with respect to the position just before."""
    torch.manual_seed(0)
    net = pixelcnn(classes=4, width=8, layers=3)
    codes = torch.rand(1, 4, 5, 5, requires_grad=True)
    for i, j in [(0, 0), (2, 3), (4, 4)]:
        (grad,) = torch.autograd.grad(net(codes)[0, :, i, j].sum(), codes)
        reads = grad[0].abs().sum(0) > 0
        assert not any(reads[a, b] for a, b in product(range(5), range(5)) if (a, b) >= (i, j))
        if (i, j) != (0, 0):
            before = (i, j - 1) if j else (i - 1, 4)
            assert reads[before]


def test_the_discrete_variants_train_evaluate_and_sample_from_the_command_line(tmp_path):
    runs = {
        "categorical": ["--model", "categorical", "--variables", "4", "--hidden", "32", "--straight-through"],
        "gmvae": ["--model", "gmvae", "--hidden", "32", "--latent", "4", "--uniform-weights"],
        "vqvae": ["--model", "vqvae", "--codes", "8", "--code-dim", "4", "--prior-width", "8", "--prior-layers",
                  "2", "--ema-decay", "0.99"],
    }
    for name, flags in runs.items():
        assert main(["train", *flags, "--subset", "200", "--epochs", "1", "--runs-dir", str(tmp_path),
                     "--name", name]) == 0
        assert main(["evaluate", str(tmp_path / name), "--iw-samples", "10", "--test-images", "20"]) == 0
    results = {name: rundir.read_json(tmp_path / name / "evaluation-k10-n20.json") for name in runs}
    assert results["categorical"]["test_nll"] < -results["categorical"]["test_elbo"]
    # the best one-to-one matching of clusters to labels includes the identity, which is the plain accuracy
    assert results["gmvae"]["test_cluster_accuracy"] >= results["gmvae"]["test_accuracy"] and "test_nll" in results["gmvae"]
    assert rundir.read_json(tmp_path / "gmvae" / rundir.CONFIG)["model"]["learn_weights"] is False
    assert "cluster_logits" in rundir.load_checkpoint(tmp_path / "gmvae")["model"]  # kept, as a buffer
    # code usage as counted here from the codes the guide gives the 20 test images evaluated
    _, _, vq_guide, data = load_run(tmp_path / "vqvae")
    counts = torch.bincount(poutine.trace(vq_guide).get_trace(data.images["test"][:20]).nodes["code"]["value"].flatten(),
                            minlength=8).double()
    p = counts / counts.sum()
    assert results["vqvae"]["test_codes_used"] == int((counts > 0).sum())
    assert results["vqvae"]["test_perplexity"] == pytest.approx(torch.exp(-torch.special.xlogy(p, p).sum()).item())
    assert "test_nll" not in results["vqvae"]  # a point mass on the codes: no importance sampling
    metrics = rundir.read_metrics(tmp_path / "vqvae")
    assert {"valid_perplexity", "valid_codes_used"} <= set(metrics[-1])
    assert main(["sample", str(tmp_path / "vqvae"), "-n", "8"]) == 0  # codes drawn from the PixelCNN
    assert main(["sample", str(tmp_path / "gmvae"), "-n", "4"]) == 0  # a row for each cluster
    assert main(["plot", str(tmp_path / "gmvae"), "--kind", "latent", "-o", str(tmp_path / "codes.png")]) == 0
    assert main(["plot", str(tmp_path / "categorical"), "--kind", "latent"]) == 2  # one-hot codes: refused
    with pytest.raises(ValueError, match="--code-prior 'gaussian': choose one of pixelcnn, uniform"):  # a config file
        pair("vqvae", (SIDE, SIDE), code_prior="gaussian")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["categorical", "gmvae", "vade", "vqvae"])
def test_the_discrete_variants_train_and_are_evaluated_on_cuda(tmp_path, name):
    pretraining = ["--pretrain", "1"] if name == "vade" else []  # its k-means runs on the CPU, the codes on CUDA
    assert main(["train", "--model", name, *pretraining, "--subset", "500", "--epochs", "2", "--device", "cuda",
                 "--runs-dir", str(tmp_path), "--name", name]) == 0
    assert main(["evaluate", str(tmp_path / name), "--iw-samples", "100", "--test-images", "20", "--device",
                 "cuda"]) == 0
    assert main(["sample", str(tmp_path / name), "--device", "cuda"]) == 0


def small_vade():
    pyro.set_rng_seed(0)
    return pair("vade", (DIM,), clusters=3, latent=2, hidden=[16])


def test_vades_q_of_the_cluster_is_the_mixtures_posterior_at_the_mean_of_q_z():
    """q(y | x) = p(y | z) = p(y) N(z; mu_y, sigma_y) / sum over y' at z the mean of q(z | x) (Jiang et al. 2017,
    eq. 16, there at a draw of z), by Bayes' rule written out."""
    model, guide = small_vade()
    with torch.no_grad():
        model.cluster_logits.copy_(torch.tensor([0.5, -1.0, 0.0]))
        model.cluster_log_scales.copy_(torch.randn(3, 2) * 0.3)
    trace = poutine.trace(guide).get_trace(binary_batch())
    z, q_y = trace.nodes["z"]["fn"].base_dist.loc, trace.nodes["y"]["fn"].probs
    joint = torch.stack([model.cluster_logits.softmax(-1)[k] * dist.Normal(model.cluster_locs[k],
                         model.cluster_log_scales[k].exp()).log_prob(z).sum(-1).exp() for k in range(3)], -1)
    assert torch.allclose(q_y, joint / joint.sum(-1, keepdim=True), atol=1e-6)


def test_vades_enumerated_elbo_is_the_explicit_sum_over_clusters_at_one_draw_of_z():
    """TraceEnum_ELBO must give, at the guide's draw of z,
    log p(x | z) - log q(z | x) + sum_y q(y | x) [log p(y) + log p(z | y) - log q(y | x)]."""
    model, guide = small_vade()
    x = binary_batch()
    pyro.set_rng_seed(3)
    loss = TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide, x)
    pyro.set_rng_seed(3)
    guide_trace = poutine.trace(guide).get_trace(x)
    z, q_z = guide_trace.nodes["z"]["value"], guide_trace.nodes["z"]["fn"]
    log_q_y = model.cluster_log_posterior(q_z.base_dist.loc).log_softmax(-1)
    components = dist.Normal(model.cluster_locs, model.cluster_log_scales.exp()).to_event(1)
    log_p_yz = model.cluster_logits.log_softmax(-1) + components.log_prob(z.unsqueeze(-2))
    elbo = (model.likelihood(model.decoder(z)).to_event(1).log_prob(x) - q_z.log_prob(z)
            + (log_q_y.exp() * (log_p_yz - log_q_y)).sum(-1))
    assert loss == pytest.approx(-elbo.sum().item(), rel=1e-5)


def test_kmeans_finds_separated_clusters_and_the_mixture_takes_their_moments():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    sizes = torch.tensor([50, 30, 20])
    points = torch.cat([c + torch.randn(n, 2, generator=generator) for c, n in zip(centres, sizes)])
    truth = torch.repeat_interleave(torch.arange(3), sizes)
    found = kmeans(points, 3, torch.Generator().manual_seed(1))
    assert (torch.bincount(found * 3 + truth, minlength=9).reshape(3, 3) > 0).sum() == 3  # a one-to-one match
    model, _ = small_vade()
    model.fit_clusters(points, found)
    for k in range(3):
        members = points[found == k]
        assert torch.allclose(model.cluster_locs[k], members.mean(0))
        assert torch.allclose(model.cluster_log_scales[k].exp(), members.std(0))
        assert model.cluster_logits.softmax(-1)[k].item() == pytest.approx(len(members) / 100)


def test_vade_pretrains_then_starts_the_mixture_at_the_k_means_clusters_of_its_codes(tmp_path):
    """A new run: the pretraining's epochs, then the mixture fitted to k-means clusters of the codes, before SVI;
    the pretraining refuses a guide whose q(z | x, y) sees the cluster."""
    data = Dataset(DataConfig(subset=300), seed=0)
    model, guide = pair("vade", data.image_shape, latent=2, hidden=[16], pretrain=2)
    pretraining = clusters_from_codes(PretrainingConfig(pretrain=2), model, guide, data, 0).pretraining
    for epoch in (1, 2):
        pretrain_epoch(model, guide, data, TrainConfig(batch_size=50), pretraining,
                       make_optimizer(model, guide, 1e-3), epoch)
    pretraining.finish(model, guide)
    codes = code(guide, data.images["train"]).detach()
    assigned = kmeans(codes, 10, torch.Generator().manual_seed(0))
    occupied = assigned.unique()
    assert torch.allclose(model.cluster_locs[occupied], torch.stack([codes[assigned == k].mean(0) for k in occupied]),
                          atol=1e-5)
    _, m2_guide = pair("gmvae", data.image_shape, latent=2, hidden=[16])
    with pytest.raises(ValueError, match="--guide vade"):
        clusters_from_codes(PretrainingConfig(pretrain=2), model, m2_guide, data, 0)
    assert main(["train", "--model", "vade", "--hidden", "16", "--latent", "2", "--pretrain", "1", "--subset", "200",
                 "--epochs", "1", "--runs-dir", str(tmp_path), "--name", "vade"]) == 0
    assert main(["evaluate", str(tmp_path / "vade"), "--iw-samples", "10", "--test-images", "20"]) == 0
    results = rundir.read_json(tmp_path / "vade" / "evaluation-k10-n20.json")
    assert results["test_cluster_accuracy_many_to_one"] >= results["test_cluster_accuracy"]  # q(y | x) deterministic


@pytest.mark.parametrize("pretrain_lr, moved", [(1e-3, True), (0.0, False)])
def test_vade_pretrains_at_its_own_learning_rate_when_given_one(tmp_path, pretrain_lr, moved):
    """--pretrain-lr sets the pretraining's Adam step (VaDE's reference: 1e-3 there, 2e-3 after); 0 takes --lr,
    here so small that the run's one pretraining epoch and one SVI epoch leave the encoder where it was."""
    data = Dataset(DataConfig(subset=100), seed=0)
    cfg = PretrainingConfig(pretrain=1, pretrain_lr=pretrain_lr)
    model, guide = pair("vade", data.image_shape, latent=2, hidden=[16], pretrain=1, pretrain_lr=pretrain_lr)
    before = [p.detach().clone() for p in guide.encoder.parameters()]
    metrics = fit(model, guide, data, TrainConfig(epochs=1, lr=1e-12, batch_size=50, elbo="enum"), tmp_path,
                  training=clusters_from_codes(cfg, model, guide, data, 0))
    assert [set(m) >= {"pretraining_loss"} for m in metrics] == [True, False]
    changed = [(p - b).abs().max().item() for p, b in zip(guide.encoder.parameters(), before)]
    assert (max(changed) > 1e-6) == moved


@pytest.mark.parametrize("loss", ["likelihood", "squared-error"])
def test_vade_pretraining_step_is_the_gradient_of_its_loss(loss):
    """One pretraining step (the whole subset in one batch) is Adam's first step on the chosen loss: the Bernoulli
    log-likelihood of freshly binarized images, or VaDE's code's squared error of the decoder's mean to the grey
    pixels. The two give different steps, so the flag cannot silently fall back to the other."""
    data = Dataset(DataConfig(subset=100), seed=0)
    options = dict(latent=2, hidden=[16], pretrain=1, pretrain_loss=loss)
    model, guide = pair("vade", data.image_shape, **options)
    encoder, decoder = (copy.deepcopy(net) for net in (guide.encoder, model.decoder))
    pyro.set_rng_seed(3)
    pretraining = clusters_from_codes(PretrainingConfig(pretrain=1, pretrain_loss=loss), model, guide, data,
                                      0).pretraining
    pretrain_epoch(model, guide, data, TrainConfig(batch_size=1000), pretraining, make_optimizer(model, guide, 1e-3), 1)
    pyro.set_rng_seed(3)
    (x,) = next(data.batches("train", 1000, fresh=loss == "likelihood"))  # the same order and the same draws
    grey = intensities(data.images["train"])
    assert torch.equal(x.sort(0).values, grey.sort(0).values) == (loss == "squared-error")
    outputs = model.likelihood(decoder(diagonal_normal(encoder(x)).loc)).to_event(1)
    by_hand = torch.nn.functional.mse_loss(outputs.mean, x) if loss == "squared-error" else -outputs.log_prob(x).sum()
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    by_hand.backward()
    optimizer.step()
    for ours, expected in zip([*guide.encoder.parameters(), *model.decoder.parameters()],
                              [*encoder.parameters(), *decoder.parameters()]):
        assert torch.allclose(ours, expected, atol=1e-7)
