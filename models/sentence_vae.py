"""The sentence VAE of Bowman et al. 2016 ("Generating Sentences from a Continuous Space"), a generative program over
a sentence w_1 .. w_T, the last word <eos>:

    z ~ Normal(0, I)                                    the sentence's code (--latent; 0: no z, the LSTM language model)
    (h_0, c_0) = W z + b                                z starts the decoder's state (their sec. 3)
    h_t = LSTM(h_{t-1}, [embed(w_{t-1}), z?])           w_0 = <bos>; z also fed at every step with --z-every-step
                                                        (--cell gru: a GRU, whose state is h_0 = W z + b alone)
    w_t | w_<t, z ~ Categorical(softmax(V h_t))         one factor per real token, masked past the sentence's end

Word dropout (their sec. 3.2): while training, each input word w_{t-1}, t > 1, is replaced by <unk> with
probability p, so the decoder must lean on z to predict the next word; the targets never change, and evaluation
sees every word. With p = 1 the decoder reads no words at all. Embedding dropout (timbmg/Sentence-VAE, texar)
instead zeroes single numbers of the input embeddings while training.

The amortized guide is the project's Gaussian one (guides/gaussian.py) over this module's `encoder`, a
bidirectional LSTM (or GRU, or one way) reading the sentence; the point-mass guide on the same encoder makes the
sequence autoencoder.
"""
import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ppl_vae.options import Options, option
from ppl_vae.pairs import Variant
from ppl_vae.text import BOS_ID, EOS_ID, PAD_ID, UNK_ID, lengths


RNN_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class SentenceVAEConfig(Options):
    # Defaults: texar's examples/vae_text on the Penn Treebank (a 32-unit code, 256-unit embeddings and LSTMs)
    latent: int = option(32, "latent dimension; 0: no z, the LSTM language model", minimum=0)
    embedding: int = option(256, "word embedding size of the decoder and of the encoder", minimum=1)
    units: int = option(256, "LSTM units of the decoder, and of the encoder in each direction", minimum=1)
    word_dropout: float = option(0.25, "probability that a decoder input word is replaced by <unk> while training "
                                 "(Bowman et al.: 0.25 to 0.5; 1: the decoder reads no words)", minimum=0, maximum=1)
    z_every_step: bool = option(False, "feed z to the decoder at every step as well as through its initial state")
    cell: str = option("lstm", "recurrent cell of the decoder and the encoder: lstm (Bowman et al.), or gru "
                       "(timbmg/Sentence-VAE's default)", choices=("lstm", "gru"))
    one_way_encoder: bool = option(False, "the encoder reads the sentence left to right only (timbmg/Sentence-VAE), "
                                   "not both ways")
    embedding_dropout: float = option(0.0, "dropout on the decoder's input embeddings while training "
                                      "(timbmg/Sentence-VAE and texar: 0.5)", minimum=0, maximum=1)


@dataclass
class LanguageModelConfig(SentenceVAEConfig):
    """The same decoder with no z and no word dropout: the LSTM language model."""
    latent: int = option(0, "latent dimension; 0: no z, the LSTM language model", minimum=0)
    word_dropout: float = option(0.0, "probability that a decoder input word is replaced by <unk> while training",
                                 minimum=0, maximum=1)


class SentenceDecoder(nn.Module):
    """Teacher-forced logits of each next word, from the input words and the code."""

    def __init__(self, vocabulary_size, latent_dim, embedding, units, z_every_step, cell="lstm", embedding_dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, embedding, padding_idx=PAD_ID)
        self.dropout = nn.Dropout(embedding_dropout)
        self.is_lstm = cell == "lstm"
        self.initial_state = nn.Linear(latent_dim, (2 if self.is_lstm else 1) * units) if latent_dim else None
        self.z_every_step = z_every_step and latent_dim > 0
        self.rnn = RNN_CELLS[cell](embedding + (latent_dim if self.z_every_step else 0), units, batch_first=True)
        self.out = nn.Linear(units, vocabulary_size)

    def forward(self, inputs, z=None, state=None):
        """inputs (B, T) ids; z (..., B, latent) with any leading (particle) dims -> logits (..., B, T, vocabulary),
        and the RNN's last state. `state` continues a decoding (then z only feeds the steps)."""
        leading = z.shape[:-2] if z is not None else ()
        steps = self.dropout(self.embed(inputs)).expand(*leading, *inputs.shape, -1).flatten(0, len(leading))
        if z is not None:
            z = z.flatten(0, len(leading))
            if state is None:
                state = self.initial_state(z).unsqueeze(0)
                if self.is_lstm:
                    h, c = state.chunk(2, dim=-1)
                    state = h.contiguous(), c.contiguous()
            if self.z_every_step:
                steps = torch.cat([steps, z.unsqueeze(1).expand(-1, steps.shape[1], -1)], dim=-1)
        hidden, state = self.rnn(steps, state)
        return self.out(hidden).reshape(*leading, *inputs.shape, -1), state


class SentenceVAE(nn.Module):
    def __init__(self, decoder: SentenceDecoder, latent_dim: int, word_dropout: float):
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.word_dropout = word_dropout

    def inputs(self, x):
        """The decoder's inputs: <bos> and the words shifted right, word-dropped while training."""
        inputs = torch.cat([torch.full_like(x[:, :1], BOS_ID), x[:, :-1]], dim=1)
        if self.training and self.word_dropout:
            dropped = torch.rand(inputs.shape, device=x.device) < self.word_dropout
            dropped[:, 0] = False  # <bos> stays
            inputs = inputs.masked_fill(dropped & (inputs != PAD_ID), UNK_ID)
        return inputs

    def forward(self, x):
        pyro.module("decoder", self.decoder)
        real = x != PAD_ID  # the sentence's words and its <eos>
        with pyro.plate("data", x.shape[0], device=x.device):
            z = None
            if self.latent_dim:
                z = pyro.sample("z", dist.Normal(torch.zeros(self.latent_dim, device=x.device), 1.0).to_event(1))
            logits, _ = self.decoder(self.inputs(x), z)
            pyro.sample("x", dist.Categorical(logits=logits).mask(real).to_event(1), obs=x)

    @torch.no_grad()
    def generate(self, z, max_length, temperature=1.0, greedy=False):
        """Sentences decoded word by word from codes z (B, latent) (or B = len(z) sentences of the language model,
        z of shape (B, 0)): each next word the most probable one (greedy) or drawn from softmax(logits /
        temperature), never <pad> or <bos>, until <eos> or max_length words. Returns (B, max_length) ids, <pad>
        after each <eos>."""
        code = z if self.latent_dim else None
        word = torch.full((len(z), 1), BOS_ID, dtype=torch.long, device=z.device)
        state, words = None, []
        done = torch.zeros(len(z), dtype=torch.bool, device=z.device)
        for _ in range(max_length):
            logits, state = self.decoder(word, code, state)
            logits = logits[:, -1].index_fill(-1, torch.tensor([PAD_ID, BOS_ID], device=z.device), -math.inf)
            word = (logits.argmax(-1) if greedy else
                    torch.distributions.Categorical(logits=logits / temperature).sample()).unsqueeze(1)
            words.append(word.masked_fill(done.unsqueeze(1), PAD_ID))
            done |= word.squeeze(1) == EOS_ID
            if done.all():
                break
        return torch.cat(words, dim=1)


class SentenceEncoder(nn.Module):
    """An LSTM or GRU over a sentence's words, both ways or left to right; its last states mapped to out_dim
    numbers."""

    def __init__(self, vocabulary_size, embedding, units, out_dim, cell="lstm", directions=2):
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, embedding, padding_idx=PAD_ID)
        self.rnn = RNN_CELLS[cell](embedding, units, batch_first=True, bidirectional=directions == 2)
        self.out = nn.Linear(directions * units, out_dim)

    def forward(self, x):
        words = lengths(x).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(x), words, batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)
        h = h[0] if isinstance(h, tuple) else h  # an LSTM's (h, c)
        return self.out(torch.cat(list(h), dim=-1))  # the last state of each direction


def build(cfg: SentenceVAEConfig, data):
    """data.image_shape: (longest sentence, vocabulary size), as the text dataset gives it."""
    _, vocabulary_size = data.image_shape
    decoder = SentenceDecoder(vocabulary_size, cfg.latent, cfg.embedding, cfg.units, cfg.z_every_step, cfg.cell,
                              cfg.embedding_dropout)
    return SentenceVAE(decoder, cfg.latent, cfg.word_dropout)


def encoder(cfg: SentenceVAEConfig, image_shape, out_dim, extra_inputs=0):
    return SentenceEncoder(image_shape[1], cfg.embedding, cfg.units, out_dim, cfg.cell, 1 if cfg.one_way_encoder else 2)


# Sentences: the Penn Treebank, batches of 32 sentences; the VAE's KL weight rises along Bowman et al.'s sigmoid over
# the first 10 000 steps (about 8 epochs)
TEXT = {"takes": "sentences", "data": {"dataset": "ptb"}, "train": {"batch_size": 32}}
VARIANTS = {
    "sentence-vae": Variant(build, "sentences (the Penn Treebank): an LSTM language model conditioned on z, read by a "
                            "bidirectional LSTM encoder, with KL annealing and word dropout (Bowman et al. 2016)",
                            SentenceVAEConfig, "gaussian", encoder,
                            **{**TEXT, "train": {**TEXT["train"], "kl_anneal": 10_000, "kl_schedule": "sigmoid"}}),
    "sentence-ae": Variant(build, "the sentence VAE's model with a point-mass guide: a sequence autoencoder (Bowman et "
                           "al.'s contrast)", SentenceVAEConfig, "delta", encoder, **TEXT),
    "lstm-lm": Variant(build, "the LSTM language model alone, no z: the sentence VAE's baseline (Bowman et al.'s "
                       "Table 2)", LanguageModelConfig, "none", encoder, **TEXT),
}
