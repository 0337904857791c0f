"""The categorical VAE's guide: q(z_i | x) = Categorical(softmax(logits_i(x))) for each of the latents, all logits
from one encoder; relaxed while training, as the model's prior: the one-hot distribution is the model's own (nets.OneHot), so a
temperature schedule sets both."""
import pyro
from torch import nn


class CategoricalGuide(nn.Module):
    def __init__(self, encoder: nn.Module, one_hot: nn.Module, latents: int, classes: int):
        super().__init__()
        self.encoder = encoder
        self.one_hot = one_hot
        self.latents = latents
        self.classes = classes

    def forward(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            logits = self.encoder(x).unflatten(-1, (self.latents, self.classes))
            pyro.sample("z", self.one_hot(logits).to_event(1))


def build(cfg, info):
    model = info.model
    return CategoricalGuide(info.encoder(model.latents * model.classes), model.one_hot, model.latents, model.classes)
