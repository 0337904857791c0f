"""Plain torch building blocks shared by models and guides. No Pyro here."""
from torch import nn


def mlp(sizes, activation=nn.Tanh):
    """Linear layers of the given sizes with `activation` between them and none after the last."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers[:-1])
