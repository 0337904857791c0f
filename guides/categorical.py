"""The categorical VAE's guide: q(z_i | x) = Categorical(softmax(logits_i(x))) for each of the latents, all logits
from one encoder; relaxed while training, as the model's prior: the one-hot distribution is the one the model shares
(nets.OneHot), so a temperature schedule sets both."""
import pyro
from torch import nn

from ppl_vae.pairs import Guide


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
    """For a model whose site z holds one-hot latents (latents x classes) and that shares its relaxation."""
    shape = info.latent("z").event_shape
    if len(shape) != 2:
        raise ValueError(f"the categorical guide infers z as latents x classes one-hot vectors; the model's z has "
                         f"event shape {tuple(shape)}")
    latents, classes = shape
    return CategoricalGuide(info.encoder(latents * classes), info.share("one_hot"), latents, classes)


GUIDES = {"categorical": Guide("categorical q(z_i | x), relaxed while training", build)}
