"""One door: a user's pair file declares what a built-in variant declares. The README's and docs/pairs.md's files, as
written, trained, evaluated, sampled and plotted from the command line; a dataset of 5 classes; VaDE's pretraining
as epochs of the one training loop, resumed exactly."""
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pyro import poutine

from helpers import markdown_blocks
from ppl_vae import rundir
from ppl_vae.cli import main
from ppl_vae.data import DataConfig, Dataset
from ppl_vae.evaluate import best_matching, predictions
from ppl_vae.models.mixture import PretrainingConfig, clusters_from_codes
from ppl_vae.runs import load_run, pair
from ppl_vae.train import TrainConfig, fit
from ppl_vae.variants import lookup

ROOT = Path(__file__).parent.parent
README, PAIRS = ROOT / "README.md", ROOT / "docs" / "pairs.md"
OWN_PAIR = "## Write your own pair"


def write_files(sources):
    """Each block's file, named by its first line (# NAME.py: ...), in the working folder."""
    for source in sources:
        Path(source.split(":", 1)[0].removeprefix("# ")).write_text(source)


def run_commands(block, *quick):
    """The block's commands, each made quick with `quick` (the flags of a train command, after its own: the last
    given wins); each must succeed."""
    for line in block.strip().splitlines():
        argv = shlex.split(line.split("#")[0])[1:]
        assert main([*argv, *quick] if argv[0] == "train" else argv) == 0, line


def five_classes(path, seed=0):
    """An .npz of 8 x 8 binary images of 5 classes: each class lights 12 pixels of its own, 3% of pixels flipped."""
    rng = np.random.default_rng(seed)
    prototypes = np.zeros((5, 64), np.uint8)
    for k, pixels in enumerate(rng.permutation(64)[:60].reshape(5, 12)):
        prototypes[k, pixels] = 1

    def draw(n):
        y = rng.integers(0, 5, n)
        return ((prototypes[y] ^ (rng.random((n, 64)) < 0.03)) * 255).astype(np.uint8).reshape(n, 8, 8), y

    (x_train, y_train), (x_test, y_test) = draw(600), draw(200)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


def test_the_readme_semi_supervised_pair_trains_on_100_labels_and_evaluate_reports_its_accuracy(tmp_path, monkeypatch,
                                                                                                 capsys):
    """M2 under a Student-t prior on z, with the package's M2 guide and semi-supervised scheme, from the README: 100
    labels among 1000 images, one epoch. The classifier q(y | x) is far above chance (0.1): measured 0.397 on the
    1000 test images, whose binomial standard error there is 0.015, so 0.2 lies 13 of them below."""
    monkeypatch.chdir(tmp_path)
    write_files(markdown_blocks(README, OWN_PAIR, "python"))
    run_commands(markdown_blocks(README, OWN_PAIR, "sh")[0], "--subset", "1000", "--epochs", "1")
    assert "test  accuracy" in capsys.readouterr().out
    results = json.loads(Path("runs/student/evaluation-k100.json").read_text())
    assert results["test_accuracy"] > 0.2
    config = rundir.read_json("runs/student/config.json")
    assert config["scheme"] == {**config["scheme"], "name": "semi-supervised", "labelled": 100}
    assert config["guide"]["name"] == "m2" and config["model"] == {"latent": 8}
    _, model, _, data = load_run("runs/student")
    z = poutine.trace(model).get_trace(data.images["test"][:2]).nodes["z"]["fn"]
    assert z.event_shape == (8,) and type(z.base_dist).__name__ == "StudentT"


def test_the_readme_conditional_pair_is_given_the_labels_and_samples_a_class(tmp_path, monkeypatch):
    """A model whose forward requires y trains on (images, labels) with no declaration, and `sample --label 3` draws
    from p(x | y = 3): the picture is the one drawn by hand from the trained model with the same seed."""
    monkeypatch.chdir(tmp_path)
    write_files(markdown_blocks(README, OWN_PAIR, "python"))
    run_commands(markdown_blocks(README, OWN_PAIR, "sh")[1], "--subset", "300", "--epochs", "1")
    config = rundir.read_json("runs/conditional/config.json")
    assert config["scheme"]["name"] == "labelled" and config["num_classes"] == 10
    assert main(["sample", "runs/conditional", "--label", "3", "12", "-o", "bad.png"]) == 2  # classes 0 to 9
    assert main(["evaluate", "runs/conditional", "--iw-samples", "20", "--test-images", "50"]) == 0
    results = json.loads(Path("runs/conditional/evaluation-k20-n50.json").read_text())
    assert results["test_nll"] < -results["test_elbo"]  # log p(x | y) estimated, above the ELBO


def test_a_pair_files_options_are_flags_grouped_under_its_name(tmp_path, monkeypatch, capsys):
    """The README's M2 file declares --latent: `train --model FILE --help` lists it under the file's name, and the
    built-in variants' options are not offered for the file."""
    monkeypatch.chdir(tmp_path)
    write_files(markdown_blocks(README, OWN_PAIR, "python"))
    with pytest.raises(SystemExit):
        main(["train", "--model", "m2_student.py:m2_student", "--help"])
    help_text = capsys.readouterr().out
    assert "options of m2_student.py:m2_student:\n  --latent LATENT       latent dimension (default 16)" in help_text
    assert "--labelled" in help_text and "--net" not in help_text
    with pytest.raises(SystemExit):
        main(["train", "--model", "m2_student.py:m2_student", "--latent", "0"])
    assert "argument --latent: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_pyros_own_example_trains_evaluates_samples_and_plots(tmp_path, monkeypatch):
    """Pyro's examples/vae style, from docs/pairs.md: model and guide two methods of one module, the latent site
    `latent`, the observed one `obs`, built as two bound methods; and two plain functions. Both train (their
    networks' weights move), are evaluated, sampled and plotted from the command line."""
    monkeypatch.chdir(tmp_path)
    sources = markdown_blocks(PAIRS, "## Pyro's own example, as it is", "python")
    write_files(sources)
    run_commands(markdown_blocks(PAIRS, "## Pyro's own example, as it is", "sh")[0], "--subset", "300", "--epochs",
                 "1")
    assert {"samples-seed0.png", "latent.png", "samples.png", "reconstructions.png"} <= {
        path.name for path in Path("runs/pyro").iterdir()}
    assert main(["train", "--model", "functions_pair.py:build", "--subset", "300", "--epochs", "1", "--name",
                 "functions"]) == 0
    trained = rundir.load_checkpoint("runs/functions")["model"]
    assert main(["train", "--model", "functions_pair.py:build", "--subset", "300", "--epochs", "1", "--lr", "1e-30",
                 "--name", "still"]) == 0
    still = rundir.load_checkpoint("runs/still")["model"]
    assert not torch.equal(trained["runs.0.0.weight"], still["runs.0.0.weight"])
    assert main(["evaluate", "runs/functions", "--iw-samples", "10", "--test-images", "20"]) == 0


def test_a_mixture_file_with_a_scheme_of_its_own_reports_its_clusters_on_five_classes(tmp_path, monkeypatch):
    """docs/pairs.md's mixture of 5 Gaussians, its scheme and the scheme's option declared in the file, on 5 classes:
    the reported cluster accuracy is the best one-to-one matching of the guide's most probable clusters to the labels,
    recomputed here; and above what one cluster for every image scores (the largest class, 0.28 here): measured 0.67
    on the 200 validation images at seed 0 (0.76 and 0.46 at seeds 1 and 2)."""
    monkeypatch.chdir(tmp_path)
    write_files(markdown_blocks(PAIRS, "## Training schemes", "python"))
    dataset = five_classes(tmp_path / "five.npz")
    assert main(["train", "--model", "gmm5.py:gmm5", "--dataset", dataset, "--epochs", "10", "--batch-size", "50",
                 "--warm-up", "200", "--name", "gmm"]) == 0
    assert rundir.read_json("runs/gmm/config.json")["scheme"] == {"name": "scale-warm-up", "start_scale": 3.0,
                                                                 "warm_up": 200}
    assert main(["evaluate", "runs/gmm", "--iw-samples", "10"]) == 0
    results = json.loads(Path("runs/gmm/evaluation-k10.json").read_text())
    _, _, guide, data = load_run("runs/gmm")
    clusters, labels = predictions(guide, data.images["test"]), data.labels["test"]
    counts = torch.zeros(5, 5, dtype=torch.long).index_put_((clusters, labels), torch.tensor(1), accumulate=True)
    assert results["test_cluster_accuracy"] == best_matching(counts.tolist()) / len(labels)
    assert results["test_cluster_accuracy"] > 0.35


def test_a_pair_files_own_metric_and_picture(tmp_path, monkeypatch):
    """docs/pairs.md's VAE with a number and a picture of its own: logged each epoch on the validation images, reported
    on the test images as the function computes it, and drawn into the run folder."""
    monkeypatch.chdir(tmp_path)
    write_files(markdown_blocks(PAIRS, "## Metrics and pictures", "python"))
    assert main(["train", "--model", "vae_plus.py:vae_plus", "--subset", "300", "--latent", "4", "--epochs", "1",
                 "--name", "plus"]) == 0
    assert "valid_code_length" in rundir.read_metrics("runs/plus")[-1] and Path("runs/plus/code-histogram.png").exists()
    assert main(["evaluate", "runs/plus", "--iw-samples", "5", "--test-images", "30"]) == 0
    _, _, guide, data = load_run("runs/plus")
    expected = lookup("vae_plus.py:vae_plus").metrics(None, guide, data.images["test"][:30], None)["code_length"]
    assert rundir.read_json("runs/plus/evaluation-k5-n30.json")["test_code_length"] == pytest.approx(expected)


def test_the_conditional_variants_take_the_datasets_five_classes(tmp_path, capsys):
    """No hard-coded 10: on an .npz of 5 classes, M2 semi-supervised on 25 labels and the CVAE build for 5 classes,
    the M2 guide's classifier has 5 outputs, samples have a row per class, and a sixth class is refused."""
    dataset = five_classes(tmp_path / "five.npz")
    flags = ["--dataset", dataset, "--epochs", "1", "--hidden", "16", "--latent", "2", "--runs-dir", str(tmp_path)]
    assert main(["train", "--model", "m2", *flags, "--labelled", "25", "--labelled-batch", "25", "--name", "m2"]) == 0
    _, model, guide, _ = load_run(tmp_path / "m2")
    assert guide.classifier[-1].out_features == 5 and model.num_classes == 5
    assert main(["evaluate", str(tmp_path / "m2"), "--iw-samples", "5"]) == 0
    assert "test  accuracy" in capsys.readouterr().out
    assert main(["train", "--model", "cvae", *flags, "--name", "cvae"]) == 0
    assert main(["sample", str(tmp_path / "cvae"), "--label", "4", "-o", str(tmp_path / "fours.png")]) == 0
    assert main(["sample", str(tmp_path / "cvae"), "--label", "5", "-o", str(tmp_path / "fives.png")]) == 2
    assert "classes are 0 to 4, got 5" in capsys.readouterr().err


def test_vade_interrupted_in_its_pretraining_resumes_to_the_numbers_of_a_straight_run(tmp_path, monkeypatch):
    """VaDE's pretraining and cluster fitting are epochs of train.fit: a run stopped after its first pretraining
    epoch (its checkpoint written) and resumed ends with the metrics and the weights of a run never stopped."""
    data = Dataset(DataConfig(subset=200), seed=0)
    cfg = TrainConfig(epochs=1, batch_size=50, elbo="enum")

    def run(run_dir, checkpoint=None):
        run_dir.mkdir(exist_ok=True)
        model, guide = pair("vade", data.image_shape, latent=2, hidden=[16])
        if checkpoint:
            model.load_state_dict(checkpoint["model"])
            guide.load_state_dict(checkpoint["guide"])
        training = clusters_from_codes(PretrainingConfig(pretrain=2), model, guide, data, 0)
        return fit(model, guide, data, cfg, run_dir, checkpoint, training)

    straight = run(tmp_path / "straight")
    assert [set(m) & {"pretraining_loss", "train_elbo"} for m in straight] == [{"pretraining_loss"}] * 2 + [
        {"train_elbo"}]
    save = rundir.save_checkpoint

    def stop_after_the_first(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "save_checkpoint", stop_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "stopped")
    monkeypatch.setattr(rundir, "save_checkpoint", save)
    assert rundir.load_checkpoint(tmp_path / "stopped")["epoch"] == 1
    resumed = run(tmp_path / "stopped", rundir.load_checkpoint(tmp_path / "stopped"))
    numbers = [[{k: v for k, v in m.items() if k != "seconds"} for m in metrics] for metrics in (straight, resumed)]
    assert numbers[0] == numbers[1]
    weights = [rundir.load_checkpoint(tmp_path / name)["model"] for name in ("straight", "stopped")]
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_the_guides_read_the_model_only_through_model_info():
    """A guide of the package built for another model than its family's: the VaDE guide needs the mixture's p(y | z),
    which the VAE does not share, and says so in one line; the M2 guide takes its classes from the model's site y."""
    with pytest.raises(ValueError, match="--guide vade cannot be built for --model vae: this guide reads the "
                                         "model's 'cluster_posterior', which the model does not share"):
        pair("vae", (8, 8), guide="vade")
    _, guide = pair("gmvae", (8, 8), clusters=3, latent=2, hidden=[8])
    assert guide.classifier[-1].out_features == 3
    y = F.one_hot(torch.tensor([2]), 3).float()
    assert poutine.trace(guide).get_trace(torch.zeros(1, 64), y).nodes["z"]["fn"].event_shape == (2,)
