"""Torch building blocks shared by models and guides, and the diagonal Normal their networks parameterize."""
import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn


def mlp(sizes, activation=nn.Tanh):
    """Linear layers of the given sizes with `activation` between them and none after the last."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers[:-1])


def diagonal_normal(params):
    """Normal(loc, diag(scale^2)) from a network's output [loc, raw scale] (last dimension): softplus makes the scale
    positive, smooth and linear for large inputs, so it cannot overflow as exp's can."""
    loc, raw_scale = params.chunk(2, dim=-1)
    return dist.Normal(loc, F.softplus(raw_scale))


def init_normal_(net: nn.Module, std: float):
    """Every weight and bias of net's linear layers drawn from Normal(0, std^2), in place; returns net."""
    for layer in net.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, std)
            nn.init.normal_(layer.bias, 0.0, std)
    return net


def conv_encoder(image_shape, channels, out_dim):
    """Flat (N, H*W) images -> (N, out_dim): one 4x4 convolution of stride 2 per entry of `channels`, each halving
    the height and width, ReLU after each, then a linear layer."""
    h, w = check_halvable(image_shape, len(channels))
    layers = [nn.Unflatten(-1, (1, *image_shape))]
    for c_in, c_out in zip([1, *channels[:-1]], channels):
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
    return FlatBatch(nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels[-1] * h * w, out_dim)))


def conv_decoder(in_dim, channels, image_shape):
    """(N, in_dim) -> flat (N, H*W): the mirror of conv_encoder, a linear layer to the smallest feature map, then one
    4x4 transposed convolution of stride 2 per entry of `channels` (in reverse), each doubling height and width."""
    h, w = check_halvable(image_shape, len(channels))
    layers = [nn.Linear(in_dim, channels[-1] * h * w), nn.ReLU(), nn.Unflatten(-1, (channels[-1], h, w))]
    for c_in, c_out in zip(reversed(channels), [*reversed(channels[:-1]), 1]):
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
    return FlatBatch(nn.Sequential(*layers[:-1], nn.Flatten()))


class FlatBatch(nn.Module):
    """A network of (N, D) -> (N, D') applied to (..., D) -> (..., D'): convolutions take one batch dimension, and
    Pyro's plates of particles or enumerated values add more on the left."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        out = self.net(x.reshape(-1, x.shape[-1]))
        return out.reshape(*x.shape[:-1], out.shape[-1])


def check_halvable(image_shape, times):
    """The feature map's (height, width) after halving `image_shape` `times` times; an error if it is not exact."""
    scale = 2**times
    if len(image_shape) != 2 or any(side % scale for side in image_shape):
        raise ValueError(f"the convolutional nets halve the image {times} times: height and width must be multiples "
                         f"of {scale}, got image shape {tuple(image_shape)}")
    return image_shape[0] // scale, image_shape[1] // scale


CORRUPTIONS = ("mask", "gauss")


class Corrupted(nn.Module):
    """An encoder that sees a corrupted copy of its input while training (the denoising autoencoder, Vincent et al.
    2008): "mask:p" sets each pixel to 0 with probability p, "gauss:s" adds Normal(0, s^2) noise. In eval mode, or
    with level 0, it is the plain encoder."""

    def __init__(self, encoder: nn.Module, spec: str):
        super().__init__()
        self.encoder = encoder
        self.kind, self.level = parse_corruption(spec)

    def forward(self, x):
        if self.training and self.level > 0:
            if self.kind == "mask":
                x = x * (torch.rand_like(x) >= self.level)
            else:
                x = x + self.level * torch.randn_like(x)
        return self.encoder(x)


def parse_corruption(spec):
    kind, _, level = spec.partition(":")
    try:
        level = float(level)
    except ValueError:
        level = math.nan
    if kind not in CORRUPTIONS or not level >= 0 or (kind == "mask" and level >= 1):
        raise ValueError(f"--corrupt {spec!r}: expected mask:P with 0 <= P < 1 or gauss:S with S >= 0, "
                         "e.g. mask:0.3 or gauss:0.5")
    return kind, level


def concat(*tensors):
    """Concatenate along the last dim after broadcasting the others: a class enumerated by Pyro has shape
    (10, 1, 10) against the images' (N, D)."""
    batch_shape = torch.broadcast_shapes(*(t.shape[:-1] for t in tensors))
    return torch.cat([t.expand(*batch_shape, t.shape[-1]) for t in tensors], dim=-1)
