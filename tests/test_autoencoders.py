"""The autoencoder family as model/guide pairs: the point-mass guide on the VAE's model, the corrupting encoder, the
convolutional nets, PCA and the linear autoencoder, KL weights, and the pictures."""
from functools import partial

import json

import matplotlib.image
import pyro
import pytest
import torch

import helpers
import torch.nn.functional as F
from pyro import poutine
from pyro.infer import Trace_ELBO

from ppl_vae.guides.delta import DeltaGuide
from ppl_vae.models.ppca import PPCA
from ppl_vae.models.vae import VAE
from ppl_vae import plots
from ppl_vae.cli import main
from ppl_vae.data import DataConfig, Dataset
from ppl_vae.evaluate import log_likelihood, mean_reconstruction, traces
from ppl_vae.nets import conv_decoder, conv_encoder, mlp
from ppl_vae.pca import PCA
from ppl_vae.objectives import make_elbo
from ppl_vae.train import ScaleLatents, TrainConfig, fit, kl_weight, latent_weighting
from ppl_vae.runs import pair

DIM = 20


binary_batch = partial(helpers.binary_batch, dim=DIM)


def small_ae(**options):
    pyro.set_rng_seed(0)
    return pair("ae", (DIM,), latent=3, hidden=[16], **options)


@pytest.mark.parametrize("elbo", ["trace", "meanfield"])
def test_the_delta_guide_makes_the_vae_model_an_autoencoder(elbo):
    """Same model class as the VAE's; the ELBO of the point-mass guide is the MAP objective
    log p(x | z) + log p(z) at z = encoder(x), and without the prior (as the trainer weights the pair) the
    reconstruction alone, the summed BCE, whichever ELBO estimator (TraceMeanField_ELBO scales its closed-form KL by
    the guide's scale, not the model's)."""
    model, guide = small_ae()
    assert type(model) is type(pair("vae", (DIM,), latent=3, hidden=[16])[0]) is VAE
    x = binary_batch()
    code = guide.encoder(x)
    bce = F.binary_cross_entropy_with_logits(model.decoder(code), x, reduction="sum")
    log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(code).sum()
    _, no_prior = latent_weighting(TrainConfig(prior="none", elbo=elbo))
    with torch.no_grad():
        assert make_elbo(elbo).loss(model, guide, x) == pytest.approx((bce - log_prior).item(), rel=1e-6)
        assert make_elbo(elbo).loss(no_prior(model), no_prior(guide), x) == pytest.approx(bce.item(), rel=1e-6)
        assert -mean_reconstruction(model, guide, [(x,)]) * len(x) == pytest.approx(bce.item(), rel=1e-6)


def test_the_plain_autoencoder_learns_codes_that_carry_information(tmp_path):
    pyro.set_rng_seed(0)
    data = Dataset(DataConfig(subset=1000), seed=0)
    model, guide = pair("ae", data.image_shape, latent=8, hidden=[200])
    metrics = fit(model, guide, data, TrainConfig(epochs=20, prior="none"), tmp_path)  # 200 steps
    # The best reconstruction without a code: each pixel's training frequency, whose summed BCE on the validation
    # images is 204 nats. After 200 steps the autoencoder's is well below (measured: 160.5), so its codes tell the
    # decoder about the image. (The untrained decoder's is 784 log 2 = 543.)
    frequency = data.images["train"].mean(dim=0).clamp(1e-6, 1 - 1e-6)
    x = data.images["valid"]
    code_free = -(x * frequency.log() + (1 - x) * (1 - frequency).log()).sum(dim=1).mean().item()
    assert -metrics[-1]["valid_recon"] < code_free - 25


def test_importance_sampling_refuses_a_point_mass_guide():
    model, guide = small_ae()
    with pytest.raises(ValueError, match="point mass on z"):
        log_likelihood(model, guide, binary_batch(), iw_samples=10)


def test_codes_are_squashed_into_the_range():
    _, guide = small_ae(code_range=0.5)
    guide.encoder[-1].bias.data += 2.0  # raw codes outside the range
    x = binary_batch()
    raw, code = guide.encoder(x), poutine.trace(guide).get_trace(x).nodes["z"]["value"]
    assert raw.abs().max() > 1 and code.abs().max() < 0.5
    assert torch.equal(code, 0.5 * torch.tanh(raw / 0.5))


def encoder_inputs(guide, x):
    """What the guide's encoder network saw when the guide ran on x, and the model's trace against it."""
    seen = []
    hook = guide.encoder.encoder.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    _, model_trace = traces(VAE(mlp([3, DIM]), 3), guide, x)
    hook.remove()
    return seen[0], model_trace


@pytest.mark.parametrize("spec", ["mask:0.3", "gauss:0.5", "mask:0", "gauss:0"])
def test_without_corruption_the_denoising_guide_is_the_plain_guide(spec):
    x = binary_batch()
    _, plain = small_ae()
    _, denoising = small_ae(corrupt=spec)
    loc = poutine.trace(plain).get_trace(x).nodes["z"]["value"]
    if spec.endswith(":0"):  # level 0: the plain guide even while training
        assert torch.equal(poutine.trace(denoising).get_trace(x).nodes["z"]["value"], loc)
    denoising.eval()  # evaluation: the encoder sees x itself
    assert torch.equal(poutine.trace(denoising).get_trace(x).nodes["z"]["value"], loc)


def test_the_encoder_sees_corrupted_x_and_the_model_scores_the_clean_x():
    x = torch.rand(200, DIM, generator=torch.Generator().manual_seed(0)) + 0.5  # no zero pixels
    n = x.numel()
    _, guide = small_ae(corrupt="mask:0.3")
    seen, model_trace = encoder_inputs(guide, x)
    assert torch.equal(model_trace.nodes["x"]["value"], x)
    zeroed = (seen == 0).double().mean().item()
    assert abs(zeroed - 0.3) < 4 * (0.3 * 0.7 / n) ** 0.5  # binomial SE
    assert torch.equal(seen[seen != 0], x[seen != 0])

    _, guide = small_ae(corrupt="gauss:0.5")
    seen, model_trace = encoder_inputs(guide, x)
    assert torch.equal(model_trace.nodes["x"]["value"], x)
    noise = (seen - x).double()
    assert abs(noise.mean().item()) < 4 * 0.5 / n**0.5
    assert abs(noise.std().item() - 0.5) < 4 * 0.5 / (2 * n) ** 0.5  # SE of a normal sample's sd


def test_convolutional_nets_take_any_batch_dims_and_invert_the_shapes():
    encoder, decoder = conv_encoder((28, 28), [8, 16], 6), conv_decoder(3, [8, 16], (28, 28))
    assert encoder(torch.rand(5, 784)).shape == (5, 6)
    assert decoder(torch.randn(2, 5, 3)).shape == (2, 5, 784)  # a plate of particles on the left
    with pytest.raises(ValueError, match="multiples of 4"):
        conv_encoder((30, 30), [8, 16], 6)


def test_pca_reconstructs_a_rank_k_matrix_exactly():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, generator=generator, dtype=torch.float64) @ torch.randn(3, 10, generator=generator,
                                                                               dtype=torch.float64) + 2.0
    pca = PCA(x, 3)
    assert torch.allclose(pca.components @ pca.components.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert (pca.decode(pca.encode(x)) - x).abs().max() < 1e-10
    assert (PCA(x, 2).decode(PCA(x, 2).encode(x)) - x).abs().max() > 0.1  # one direction short: not exact


def principal_angles(a, b):
    """The principal angles between the column spans of a and b, in radians."""
    cosines = torch.linalg.svdvals(torch.linalg.qr(a).Q.T @ torch.linalg.qr(b).Q)
    return torch.arccos(cosines.clamp(max=1.0))


def test_a_linear_autoencoder_spans_the_pca_subspace():
    """Probabilistic PCA's linear-Gaussian model with a linear point-mass guide and no prior is the linear autoencoder
    with squared error, whose decoder spans the leading principal subspace (Baldi & Hornik 1989)."""
    generator = torch.Generator().manual_seed(0)
    rotation = torch.linalg.qr(torch.randn(8, 8, generator=generator, dtype=torch.float64)).Q
    x = torch.randn(400, 8, generator=generator, dtype=torch.float64) * torch.tensor([3.0, 2, 1, .5, .4, .3, .2, .1],
                                                                                   dtype=torch.float64) @ rotation
    pyro.set_rng_seed(0)
    model, guide = PPCA(8, 2).double(), DeltaGuide(torch.nn.Linear(8, 2).double())
    before = principal_angles(model.weight.detach(), PCA(x, 2).components.T)
    optimizer = torch.optim.Adam([model.weight, model.bias, *guide.parameters()], lr=0.02)  # sigma stays 1
    elbo, no_prior = Trace_ELBO(), ScaleLatents(0.0)(model)
    for _ in range(1500):
        elbo.loss_and_grads(no_prior, guide, x)
        optimizer.step()
        optimizer.zero_grad()
    after = principal_angles(model.weight.detach(), PCA(x, 2).components.T)
    assert before.max() > 0.3  # a random decoder is far from the subspace
    assert after.max() < 1e-3


def test_kl_weight_warms_up_linearly_to_beta():
    assert [kl_weight(step, 2.0, 100) for step in (0, 25, 50, 100, 1000)] == [0.0, 0.5, 1.0, 2.0, 2.0]
    assert kl_weight(0, 4.0, 0) == 4.0  # no warm-up


def test_the_trainer_follows_the_warm_up(tmp_path):
    data = Dataset(DataConfig(subset=300), seed=0)  # 3 steps an epoch
    model, guide = pair("vae", data.image_shape, latent=4, hidden=[32])
    metrics = fit(model, guide, data, TrainConfig(epochs=3, kl_anneal=7, beta=2.0), tmp_path)
    # the weight of the last step of each epoch: steps 2, 5, 8
    assert [m["kl_weight"] for m in metrics] == [2.0 * 2 / 7, 2.0 * 5 / 7, 2.0]


def test_a_zero_weight_leaves_the_reconstruction_term():
    pyro.set_rng_seed(0)
    model, guide = pair("vae", (DIM,), latent=3, hidden=[16])
    x = binary_batch()
    pyro.set_rng_seed(1)
    loss = Trace_ELBO().loss(ScaleLatents(0.0)(model), ScaleLatents(0.0)(guide), x)
    pyro.set_rng_seed(1)
    assert -mean_reconstruction(model, guide, [(x,)]) * len(x) == pytest.approx(loss, rel=1e-6)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A 2-D autoencoder and a 3-D VAE, trained one epoch on 200 images."""
    runs = tmp_path_factory.mktemp("runs")
    for name, flags in {"ae": ["--model", "ae", "--prior", "none", "--latent", "2"], "vae": ["--latent", "3"]}.items():
        assert main(["train", "--subset", "200", "--hidden", "16", "--epochs", "1", "--runs-dir", str(runs),
                     "--name", name, *flags]) == 0
    return runs / "ae", runs / "vae"


def png_shape(path):
    return matplotlib.image.imread(path).shape[:2]


def image_panels_shape(panels, rows, columns):
    """The pixel size of save_image_panels' figure: rows x columns tiles of 28 + 2 pixels each, 2 more at the edge."""
    width = plots.PANEL_INCHES
    height = width * (rows * 30 + 2) / (columns * 30 + 2) + 0.5
    return round(height * plots.DPI), round(width * panels * plots.DPI)


@pytest.mark.parametrize("kind, pca, expected", [
    ("latent", True, ((4, 4 * 3 + 0.8))),
    ("manifold", False, image_panels_shape(1, 20, 20)),
    ("traversal", False, image_panels_shape(1, 2, 9)),  # rows: the latent units, at most 10
    ("interpolation", True, image_panels_shape(3, 5, 10)),
    ("samples", False, image_panels_shape(2, 8, 8)),
])
def test_each_plot_command_writes_a_png_of_the_expected_size(two_runs, tmp_path, kind, pca, expected):
    runs = two_runs[:1] if kind in ("manifold", "traversal") else two_runs
    output = tmp_path / f"{kind}.png"
    assert main(["plot", *map(str, runs), "--kind", kind, *(["--pca"] if pca else []), "-o", str(output)]) == 0
    if kind == "latent":
        expected = tuple(round(inches * plots.DPI) for inches in expected)
    assert png_shape(output) == pytest.approx(expected, abs=1)


def test_plot_errors_are_explained(two_runs, capsys):
    assert main(["plot", str(two_runs[1]), "--kind", "manifold"]) == 2
    assert "needs a 2-D latent, this run's has 3" in capsys.readouterr().err
    assert main(["plot", str(two_runs[1]), "--kind", "samples", "--pca"]) == 2
    assert "--pca goes with --kind latent or interpolation" in capsys.readouterr().err


def test_evaluating_an_autoencoder_reports_reconstruction_only(two_runs, capsys):
    ae = two_runs[0]
    assert main(["evaluate", str(ae)]) == 0
    results = json.loads((ae / "evaluation.json").read_text())
    assert set(results) == {"train_recon", "valid_recon", "test_recon", "counts", "point_masses"}
    assert results["point_masses"] == ["z"] and results["counts"] == {"train": 200, "valid": 200, "test": 200}
    assert "point mass on z" in capsys.readouterr().out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_convolutional_denoising_autoencoder_trains_on_cuda(tmp_path):
    pyro.set_rng_seed(0)
    data = Dataset(DataConfig(subset=500), device="cuda", seed=0)
    model, guide = (m.cuda() for m in pair("ae", data.image_shape, net="conv", corrupt="mask:0.3"))
    metrics = fit(model, guide, data, TrainConfig(epochs=2, prior="none", kl_anneal=5), tmp_path)
    assert metrics[-1]["valid_recon"] > metrics[0]["valid_recon"]
    assert plots.latent_means(guide, data.images["test"]).is_cuda
