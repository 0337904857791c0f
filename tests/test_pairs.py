"""Pairs, not variants: guides chosen apart from models, a user's own pair file, the README's examples, the
likelihoods, the flags made from the configs, and the run folder's results kept apart by their settings."""
import json
import math
import re
import shlex
from pathlib import Path

import numpy as np
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine

from helpers import markdown_blocks
from ppl_vae import options, rundir, runs
from ppl_vae.cli import build_parser, main
from ppl_vae.evaluate import log_likelihood, mean_elbo, traces
from ppl_vae.likelihoods import Likelihood
from ppl_vae.pairs import check_pair
from ppl_vae.objectives import make_elbo
from ppl_vae.variants import GUIDES, SCHEMES, VARIANTS

README = Path(__file__).parent.parent / "README.md"
PAIRS = Path(__file__).parent.parent / "docs" / "pairs.md"
BARE = "## The least: a bare build"
QUICK = ["--subset", "300", "--batch-size", "50"]
TINY = [*QUICK, "--hidden", "32", "--latent", "4"]


@pytest.mark.parametrize("guide", ["gaussian", "delta", "fullcov", "flow"])
def test_the_vae_model_trains_with_each_encoder_guide(tmp_path, guide):
    assert main(["train", *TINY, "--epochs", "1", "--guide", guide, "--runs-dir", str(tmp_path), "--name", guide]) == 0
    config = rundir.read_json(tmp_path / guide / "config.json")
    assert config["variant"] == "vae" and config["guide"]["name"] == guide


@pytest.mark.parametrize("guide", ["fullcov", "flow"])
def test_richer_guides_give_bounds_below_the_importance_weighted_estimate(guide):
    """For any guide with a density, the ELBO <= E[IWAE_k]: on 8 images, IWAE_1000 exceeds the ELBO averaged over
    400 draws by more than 4 standard errors of that average."""
    model, guide_program = runs.pair("vae", (20,), guide=guide, latent=3, hidden=[16])
    x = torch.bernoulli(torch.full((8, 20), 0.3), generator=torch.Generator().manual_seed(0))
    elbos = np.array([mean_elbo(model, guide_program, [(x,)], make_elbo("trace")) for _ in range(400)])
    iwae = log_likelihood(model, guide_program, x, iw_samples=1000).mean().item()
    assert iwae > elbos.mean() + 4 * elbos.std() / len(elbos) ** 0.5


def test_the_full_covariance_guide_scores_its_draws_with_the_cholesky_factor_it_builds():
    model, guide = runs.pair("vae", (20,), guide="fullcov", latent=3, hidden=[16])
    x = torch.bernoulli(torch.full((4, 20), 0.5))
    site = poutine.trace(guide).get_trace(x).nodes["z"]
    tril = site["fn"].scale_tril
    assert torch.equal(tril, tril.tril()) and (tril.diagonal(dim1=-2, dim2=-1) > 0).all()
    params = guide.encoder(x)
    assert torch.allclose(site["fn"].loc, params[:, :3])
    explicit = dist.MultivariateNormal(params[:, :3], covariance_matrix=tril @ tril.transpose(-1, -2))
    assert torch.allclose(site["fn"].log_prob(site["value"]), explicit.log_prob(site["value"]), atol=1e-4)


def test_the_full_covariance_guide_starts_as_the_mean_field_one():
    model, guide = runs.pair("vae", (20,), guide="fullcov", latent=3, hidden=[16])
    tril = poutine.trace(guide).get_trace(torch.rand(4, 20)).nodes["z"]["fn"].scale_tril
    assert torch.equal(tril, torch.diag_embed(tril.diagonal(dim1=-2, dim2=-1)))
    assert (tril.diagonal(dim1=-2, dim2=-1) > 0).all()


def test_the_flow_guide_density_is_the_base_density_less_the_log_jacobians():
    model, guide = runs.pair("vae", (20,), guide="flow", latent=3, hidden=[16], flows=2)
    x = torch.bernoulli(torch.full((4, 20), 0.5))
    fn = poutine.trace(guide).get_trace(x).nodes["z"]["fn"]
    z0 = fn.base_dist.sample()
    z, log_det = z0, 0.0
    for transform in fn.transforms:
        z_next = transform(z)
        log_det = log_det + transform.log_abs_det_jacobian(z, z_next)
        z = z_next
    assert torch.allclose(fn.log_prob(z), fn.base_dist.log_prob(z0) - log_det, atol=1e-4)


def test_a_guide_that_does_not_fit_the_model_is_refused_before_training(tmp_path, capsys):
    assert main(["train", *QUICK, "--model", "vae2", "--guide", "gaussian", "--runs-dir", str(tmp_path)]) == 2
    assert "latent site 'z'; the model's latent sites are z2, z1" in capsys.readouterr().err
    assert main(["train", *QUICK, "--model", "vae", "--guide", "bottom-up", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--guide bottom-up cannot be built for --model vae" in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
    model, _ = runs.pair("vae", (20,), latent=3)
    _, guide = runs.pair("vae", (20,), latent=4)
    with pytest.raises(ValueError, match=r"does not fit the model at site 'z': the model's has event shape \(3,\)"):
        check_pair(model, guide, (torch.zeros(2, 20),))


def test_the_continuous_bernoulli_is_a_density_on_the_unit_interval():
    """Its density integrates to 1 over [0, 1] (midpoint rule, 20 000 points: error below 1e-6), the Bernoulli's
    "density" of grey values does not."""
    u = (torch.arange(20_000, dtype=torch.float64) + 0.5) / 20_000
    logits = torch.tensor([-3.0, 0.0, 0.4, 5.0], dtype=torch.float64)[:, None]
    continuous = Likelihood("continuous-bernoulli")(logits).log_prob(u).exp().mean(-1)
    bernoulli = Likelihood("bernoulli")(logits).log_prob(u).exp().mean(-1)
    assert torch.allclose(continuous, torch.ones(4, dtype=torch.float64), atol=1e-5)
    assert (bernoulli < 0.9).all()


def test_the_gaussian_likelihood_is_the_squared_error_over_2c2():
    out, x, c = torch.randn(5, 7), torch.rand(5, 7), 0.2
    log_p = Likelihood("gaussian", c)(out).to_event(1).log_prob(x)
    squared = (x - torch.sigmoid(out)).pow(2).sum(-1)
    assert torch.allclose(log_p, -squared / (2 * c**2) - 7 / 2 * math.log(2 * math.pi * c**2), atol=1e-4)
    learned = Likelihood("gaussian", 0.0)
    assert [name for name, _ in learned.named_parameters()] == ["log_scale"]


@pytest.mark.parametrize("variant", ["vae", "vae2", "lvae", "categorical", "gmvae", "cvae", "completion", "m2"])
def test_every_image_model_takes_the_likelihood_flag(variant):
    model, guide = runs.pair(variant, (8, 8), likelihood="continuous-bernoulli", **(
        {"latents": [4, 2], "hidden": [8, 8]} if variant == "lvae" else {}))
    x = torch.rand(3, 64)
    args = (x, torch.eye(10)[:3]) if variant == "cvae" else (x,)
    _, model_trace = traces(model, guide, *args)
    fn = model_trace.nodes["x"]["fn"]
    while hasattr(fn, "base_dist"):
        fn = fn.base_dist
    assert isinstance(fn, dist.ContinuousBernoulli)


def test_hidden_sizes_run_encoder_side_first_and_the_decoder_mirrors_them():
    model, guide = runs.pair("vae", (28, 28), hidden=[512, 256], latent=2)
    linear = lambda net: [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert linear(guide.encoder) == [(784, 512), (512, 256), (256, 4)]
    assert linear(model.decoder) == [(2, 256), (256, 512), (512, 784)]


def test_every_option_is_a_flag_made_from_its_field():
    parser = build_parser()
    train = next(a for a in parser._actions if a.dest == "command").choices["train"]
    flags = {flag for action in train._actions for flag in action.option_strings}
    classes = [*(v.config for v in VARIANTS.values()), *(g.config for g in GUIDES.values() if g.config),
               *(s.config for s in SCHEMES.values() if s.config)]
    for cls in classes:
        for names, name, field, _ in options.fields(cls):
            assert set(names) <= flags, (cls, name)
            assert field.metadata["help"]


def test_the_bare_pair_of_the_docs_trains_evaluates_samples_and_plots(tmp_path, monkeypatch, capsys):
    """docs/pairs.md's bare build, as written: the file and its two commands (made quick)."""
    monkeypatch.chdir(tmp_path)
    (source,), (commands,) = markdown_blocks(PAIRS, BARE, "python"), markdown_blocks(PAIRS, BARE, "sh")
    Path("my_pair.py").write_text(source)
    for line in commands.strip().splitlines():
        argv = shlex.split(line)[1:]
        if argv[0] == "train":
            argv = [*argv, *QUICK, "--epochs", "1"]
        assert main(argv) == 0, line
    results = json.loads(Path("runs/mine/evaluation-k1000.json").read_text())
    assert 0 < results["test_nll"] < -results["test_elbo"]  # the IWAE bound is above the ELBO
    config = rundir.read_json("runs/mine/config.json")
    assert config["pair_file"]["path"] == str(Path("my_pair.py").resolve())
    assert main(["sample", "runs/mine", "-n", "4"]) == 0 and Path("runs/mine/samples-seed0.png").exists()
    assert main(["plot", "runs/mine", "--kind", "latent"]) == 0
    capsys.readouterr()
    Path("my_pair.py").write_text(source + "\n# changed\n")
    assert main(["evaluate", "runs/mine", "--iw-samples", "10"]) == 0
    assert "my_pair.py has changed since this run was configured" in capsys.readouterr().err


def test_the_readme_python_api_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (source,) = markdown_blocks(README, "## Python API", "python")
    exec(compile(source, "README.md", "exec"), {})
    assert re.search(r"NLL of 100 test images: \d+\.\d\d nats", capsys.readouterr().out)
    assert main(["evaluate", "runs/vae-flow", "--iw-samples", "5", "--test-images", "20"]) == 0


def test_results_of_other_settings_do_not_replace_each_other(tmp_path, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--runs-dir", str(tmp_path), "--name", "r"]) == 0
    run_dir = tmp_path / "r"
    assert main(["evaluate", str(run_dir), "--iw-samples", "20"]) == 0
    full = (run_dir / "evaluation-k20.json").read_text()
    assert main(["evaluate", str(run_dir), "--iw-samples", "5", "--test-images", "10"]) == 0
    assert (run_dir / "evaluation-k20.json").read_text() == full
    assert json.loads((run_dir / "evaluation-k5-n10.json").read_text())["test_images"] == 10
    assert main(["evaluate", str(run_dir), "--iw-samples", "20"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    before = (run_dir / "samples.png").read_bytes()
    assert main(["sample", str(run_dir), "--seed", "1"]) == 0 and (run_dir / "samples-seed1.png").exists()
    assert (run_dir / "samples.png").read_bytes() == before
    assert main(["sample", str(run_dir), "--seed", "1"]) == 2


def test_evaluate_scores_a_users_images_and_refuses_grey_ones_for_a_bernoulli(tmp_path, capsys):
    assert main(["train", *TINY, "--epochs", "1", "--runs-dir", str(tmp_path), "--name", "r"]) == 0
    binary = np.random.default_rng(0).random((6, 28, 28)) > 0.5
    np.savez(tmp_path / "mine.npz", x=binary.astype(np.uint8) * 255)
    assert main(["evaluate", str(tmp_path / "r"), "--images", str(tmp_path / "mine.npz"), "--iw-samples", "10"]) == 0
    assert np.load(tmp_path / "r" / "mine_log_likelihood.npy").shape == (6,)
    np.savez(tmp_path / "grey.npz", x=np.full((2, 28, 28), 0.5, dtype=np.float32))
    assert main(["evaluate", str(tmp_path / "r"), "--images", str(tmp_path / "grey.npz")]) == 2
    assert "grey values (not only 0 and 1), which are not Bernoulli data" in capsys.readouterr().err


def test_a_run_configured_before_guides_were_named_apart_still_loads(tmp_path):
    assert main(["train", *TINY, "--epochs", "1", "--model", "ae", "--code-range", "2", "--runs-dir", str(tmp_path),
                 "--name", "old"]) == 0
    config = rundir.read_json(tmp_path / "old" / "config.json")
    old = {**config, "model": {**config["model"], "code_range": 2.0, "corrupt": None}}
    del old["guide"]
    rundir.write_json(tmp_path / "old" / "config.json", old)
    config, model, guide, _ = runs.load_run(tmp_path / "old", with_data=False)
    assert config["guide"] == {"name": "delta", "corrupt": None, "code_range": 2.0}
    assert guide.code_range == 2.0


def test_a_run_configured_before_schemes_had_options_of_their_own_still_loads(tmp_path):
    """M2's labelled images and alpha were its model's options, M1+M2's --m1 too: they move to the scheme and the
    data, and the run loads and resumes with them."""
    assert main(["train", *QUICK, "--epochs", "1", "--model", "m2", "--hidden", "16", "--latent", "2", "--labelled",
                 "50", "--alpha", "5", "--runs-dir", str(tmp_path), "--name", "old"]) == 0
    config = rundir.read_json(tmp_path / "old" / "config.json")
    scheme = {k: v for k, v in config["scheme"].items() if k != "name"}
    old = {**config, "model": {**config["model"], **scheme, "m1": "", "active": 0.0, "sampled": False}}
    del old["scheme"]
    rundir.write_json(tmp_path / "old" / "config.json", old)
    assert runs.load_run(tmp_path / "old", with_data=False)[0] == config
    assert main(["train", "--resume", str(tmp_path / "old"), "--epochs", "2"]) == 0
    assert rundir.read_json(tmp_path / "old" / "config.json")["scheme"] == config["scheme"]


def test_a_bad_option_in_a_config_file_is_named_with_the_valid_ones(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**runs.configure("vae"), "train": {"lr_decay": 0.5}}))
    assert main(["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "lr_decay: not an option of training" in capsys.readouterr().err


def test_a_pair_from_an_importable_module_with_relative_imports_trains(tmp_path, monkeypatch):
    (source,) = markdown_blocks(PAIRS, BARE, "python")
    package = tmp_path / "mypairs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "networks.py").write_text(source)
    (package / "pair.py").write_text("from .networks import build\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["train", "--model", "mypairs.pair:build", *QUICK, "--epochs", "1", "--runs-dir",
                 str(tmp_path / "runs"), "--name", "m"]) == 0
    assert rundir.read_json(tmp_path / "runs" / "m" / "config.json")["pair_file"]["path"] == str(package / "pair.py")
    assert main(["evaluate", str(tmp_path / "runs" / "m"), "--iw-samples", "5"]) == 0
