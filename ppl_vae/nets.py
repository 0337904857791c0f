"""Torch building blocks shared by models and guides, and the diagonal Normal their networks parameterize."""
import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn


def mlp(sizes, activation=nn.Tanh, batch_norm=False, activate_last=False):
    """Linear layers of the given sizes with `activation` between them, and after the last only if `activate_last`
    (a deterministic layer whose units feed others). batch_norm: each activation follows a batch normalization (Ioffe
    & Szegedy 2015), over every batch dimension (FlatBatch)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if activate_last or i < len(sizes) - 2:
            layers += [nn.BatchNorm1d(n_out), activation()] if batch_norm else [activation()]
    return FlatBatch(nn.Sequential(*layers)) if batch_norm else nn.Sequential(*layers)


def diagonal_normal(params):
    """Normal(loc, diag(scale^2)) from a network's output [loc, raw scale] (last dimension): softplus makes the scale
    positive, smooth and linear for large inputs, so it cannot overflow as exp's can."""
    loc, raw_scale = params.chunk(2, dim=-1)
    return dist.Normal(loc, F.softplus(raw_scale))


def init_hidden_normal_(net: nn.Module, std: float):
    """The weights and biases of net's hidden linear layers drawn from Normal(0, std^2), in place; the output layer
    (the last linear one) keeps PyTorch's default, as Pyro's examples/vae/utils/custom_mlp.py does. Tiny output
    weights too would start the hidden units as near-copies of each other (issue 16). Returns net."""
    *hidden, _ = [layer for layer in net.modules() if isinstance(layer, nn.Linear)]
    for layer in hidden:
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
    """A network of (N, *E) -> (N, *E') applied to (..., *E) -> (..., *E'), E the last `event_dims` dimensions (D,
    or C, H, W): convolutions and batch normalization take one batch dimension, and Pyro's plates of particles or
    enumerated values add more on the left."""

    def __init__(self, net: nn.Module, event_dims=1):
        super().__init__()
        self.net = net
        self.event_dims = event_dims

    def forward(self, x):
        batch_shape = x.shape[:-self.event_dims]
        out = self.net(x.reshape(-1, *x.shape[-self.event_dims:]))
        return out.reshape(*batch_shape, *out.shape[1:])


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


def concat(*tensors, dim=-1):
    """Concatenate along `dim` after broadcasting the other dimensions: a class enumerated by Pyro has shape
    (10, 1, 10) against the images' (N, D); a latent drawn for k particles, (k, N, C, H, W) against (N, C', H, W)."""
    def others(t):
        return [1 if i == t.dim() + dim else size for i, size in enumerate(t.shape)]
    shape = torch.broadcast_shapes(*(torch.Size(others(t)) for t in tensors))
    return torch.cat([t.expand(*shape[:dim], t.shape[dim], *shape[dim:][1:]) for t in tensors], dim=dim)


def log_scale_normal(loc, log_scale):
    """Normal(loc, exp(log_scale)) with both soft-clamped into (-5, 5) by 5 tanh(./5), as NVAE bounds them (Vahdat &
    Kautz 2020, app. A): a scale between 0.0067 and 148."""
    return dist.Normal(5 * torch.tanh(loc / 5), torch.exp(5 * torch.tanh(log_scale / 5)))


class SqueezeExcite(nn.Module):
    """Channel gating (Hu et al. 2018): each channel scaled by a sigmoid of a small MLP of the channels' means."""

    def __init__(self, channels, reduction=4):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.gate = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x.mean(dim=(-2, -1)))[..., None, None]


class ResidualCell(nn.Module):
    """x + 0.1 f(x), f = BN-Swish-conv3x3-BN-Swish-conv3x3-SE, NVAE's residual cell of the encoder (Vahdat & Kautz
    2020, fig. 3b; the 0.1 is their code's), on (N, C, H, W)."""

    def __init__(self, channels):
        super().__init__()
        self.f = nn.Sequential(nn.BatchNorm2d(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
                               nn.BatchNorm2d(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
                               SqueezeExcite(channels))

    def forward(self, x):
        return x + 0.1 * self.f(x)


class MaskedConv2d(nn.Conv2d):
    """A convolution whose output at (i, j) reads only the inputs before (i, j) in raster order, and (i, j) itself
    unless `exclude_center`: PixelCNN's masks B and A (van den Oord et al. 2016, sec. 3.4), for inputs of one kind
    (no colour channels to order)."""

    def __init__(self, c_in, c_out, kernel, exclude_center):
        super().__init__(c_in, c_out, kernel, padding=kernel // 2)
        mask, k = torch.ones_like(self.weight), kernel // 2
        mask[..., k, k + (not exclude_center):] = 0
        mask[..., k + 1:, :] = 0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def pixelcnn(classes, width, layers, kernel=3):
    """A small PixelCNN over grids of one-hot classes (N, classes, H, W) -> the logits of each position's class
    given the positions before it (N, classes, H, W): a masked convolution that excludes the centre, `layers` - 1
    that include it, ReLU between, and a 1x1 convolution to the logits."""
    hidden = [MaskedConv2d(width, width, kernel, exclude_center=False) for _ in range(layers - 1)]
    return FlatBatch(nn.Sequential(MaskedConv2d(classes, width, kernel, exclude_center=True),
                                   *[m for layer in hidden for m in (nn.ReLU(), layer)], nn.ReLU(),
                                   nn.Conv2d(width, classes, 1)), event_dims=3)


def images(*layers):
    """A network of images (N, C, H, W) applied to (..., C, H, W)."""
    return FlatBatch(nn.Sequential(*layers), event_dims=3)


class BottomUp(nn.Module):
    """x -> one feature map per group, top group first: a strided convolution to half the image, then per scale,
    finest first, `cells` residual cells per group (a feature map after each group's), and a strided convolution to
    the next scale."""

    def __init__(self, groups, channels, cells, image_shape):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.stem = images(nn.Conv2d(1, channels, 4, stride=2, padding=1))
        self.groups = nn.ModuleList(images(*(ResidualCell(channels) for _ in range(cells)))
                                    for _ in range(sum(groups)))
        self.downsamplers = nn.ModuleList(images(nn.Conv2d(channels, channels, 4, stride=2, padding=1))
                                          for _ in groups[1:])
        self.scale_starts = [sum(groups[scale:]) for scale in range(1, len(groups))]  # counted from the bottom

    def forward(self, x):
        d, features = self.stem(x.unflatten(-1, self.image_shape).unsqueeze(-3)), []
        for index, group in enumerate(self.groups):
            if index in self.scale_starts:
                d = self.downsamplers[self.scale_starts.index(index)](d)
            d = group(d)
            features.append(d)
        return features[::-1]


class TopDown(nn.Module):
    """The generative top-down path, shared with the guide, which draws the groups from the same priors.
    `groups`: groups of latents per scale, coarsest first; each scale doubles the height and width of the one before,
    and the finest is half the image's."""

    def __init__(self, groups, channels, latent_channels, cells, image_shape):
        super().__init__()
        height, width = check_halvable(image_shape, len(groups))
        self.channels = channels
        self.start = nn.Parameter(torch.zeros(channels, height, width))
        self.latent_shapes = [(latent_channels, height << scale, width << scale)
                              for scale, count in enumerate(groups) for _ in range(count)]
        self.scale_ends = [sum(groups[: scale + 1]) - 1 for scale in range(len(groups))]
        self.priors = nn.ModuleList(images(nn.ELU(), nn.Conv2d(channels, 2 * latent_channels, 3, padding=1))
                                    for _ in self.latent_shapes[1:])
        self.absorbers = nn.ModuleList(
            images(nn.Conv2d(channels + latent_channels, channels, 1), *(ResidualCell(channels) for _ in range(cells)))
            for _ in self.latent_shapes)
        self.upsamplers = nn.ModuleList(images(nn.Upsample(scale_factor=2), nn.Conv2d(channels, channels, 3, padding=1))
                                        for _ in groups[1:])
        self.head = images(nn.ELU(), nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1))

    def initial(self, batch_size):
        return self.start.expand(batch_size, *self.start.shape)

    def prior(self, group, h):
        """(loc, log scale) of p(z_group | z_<group): 0 and 0 at the top, else from h."""
        if group == 0:
            zeros = h.new_zeros(*h.shape[:-3], *self.latent_shapes[0])
            return zeros, zeros
        return self.priors[group - 1](h).chunk(2, dim=-3)

    def absorb(self, group, h, z):
        h = self.absorbers[group](concat(h, z, dim=-3))
        if group in self.scale_ends[:-1]:
            h = self.upsamplers[self.scale_ends.index(group)](h)
        return h

    def pixels(self, h):
        return self.head(h).flatten(-3)


class OneHot(nn.Module):
    """The distribution of one-hot latents with the given logits: while training, relaxed at `temperature`; in eval
    mode the categorical itself. One instance serves the model and the guide, so a schedule sets both temperatures
    at once."""

    def __init__(self, temperature=1.0, straight_through=False):
        super().__init__()
        self.temperature = temperature
        self.straight_through = straight_through

    def forward(self, logits):
        # Logits soft-clamped into (-10, 10): the entries of a relaxed sample, exp(-(logit gap + Gumbel gap) / tau),
        # then stay normal float32 numbers, whose logs (the relaxed densities take them) are exact, not 0 and -inf.
        logits = 10 * torch.tanh(logits / 10)
        if not self.training:
            return dist.OneHotCategorical(logits=logits)
        return dist.RelaxedOneHotCategorical(logits.new_tensor(self.temperature), logits=logits)

    def decoded(self, z):
        """What the decoder reads of z: z itself; or, `straight_through`, the one-hot vector of z's largest entry in
        the forward pass and z's gradient in the backward pass (Jang et al. 2017, sec. 2.2). z stays the relaxed
        sample, so the densities are those of the relaxed model. (Pyro's RelaxedOneHotCategoricalStraightThrough
        scores a copy of the sample clamped to [1.2e-7, 1], off the simplex: as the guide grew confident its ELBO
        reached +1e12.)"""
        if not self.straight_through:
            return z
        return F.one_hot(z.argmax(-1), z.shape[-1]).to(z.dtype) + (z - z.detach())
