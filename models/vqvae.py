"""The VQ-VAE (van den Oord et al. 2017) as a generative program over a grid of discrete codes:

    code ~ p(code)                     an H x W grid of indices into a codebook of K vectors: uniform (the paper's
                                       prior while training), or autoregressive (`CodeGrid`, a small PixelCNN)
    z_q = codebook[code]               each position's code vector, D x H x W
    x | z_q ~ likelihood(decoder(z_q))

The guide (guides/vqvae.py) puts a point mass on the code nearest to the encoder's output. The code is discrete, so
log p(x, code) at that code is a lower bound on log p(x), and the prior's term trains the prior alone: fitting it
alongside the autoencoder is the paper's second stage run at the same time.
"""
from dataclasses import dataclass
from itertools import product

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from pyro.distributions import TorchDistribution, constraints
from torch import nn

from ppl_vae.likelihoods import LikelihoodConfig
from ppl_vae.nets import FlatBatch, check_halvable, images, pixelcnn
from ppl_vae.options import option
from ppl_vae.pairs import Variant


class Codebook(nn.Module):
    """K code vectors of D numbers, and how much each is used: a moving average of the positions that choose it in a
    training batch. With `ema_decay`, the vectors are not trained by gradient but follow moving averages of the
    encoder outputs nearest to each (van den Oord et al. 2017, app. A.1); the usage then decays alike, else at 0.99.
    A code whose usage falls below `restart_below` is moved to an encoder output of the batch drawn at random (the
    random restarts of Dhariwal et al. 2020, sec. 2.2): without them most codes are never chosen (2 of 64 used after
    two epochs on 5000 MNIST images, 4 with the moving averages; 26 and 29 with restarts, measured), and the first
    batch's restarts start the codebook on the data."""

    def __init__(self, num_codes, dim, ema_decay=None, restart_below=1.0):
        super().__init__()
        self.num_codes = num_codes
        self.ema_decay = ema_decay
        self.restart_below = restart_below
        vectors = torch.empty(num_codes, dim).uniform_(-1 / num_codes, 1 / num_codes)
        if ema_decay is None:
            self.vectors = nn.Parameter(vectors)
        else:
            self.register_buffer("vectors", vectors)
            self.register_buffer("cluster_sums", vectors.clone())
        self.register_buffer("usage", torch.zeros(num_codes))

    def forward(self, code):
        """(..., H, W) indices -> their vectors, (..., D, H, W)."""
        return self.vectors[code].movedim(-1, -3)

    def nearest(self, z_e):
        """(..., D, H, W) -> (..., H, W): the index of the code vector nearest to each position's D numbers."""
        z = z_e.movedim(-3, -1)
        distances = z.pow(2).sum(-1, keepdim=True) - 2 * z @ self.vectors.T + self.vectors.pow(2).sum(-1)
        return distances.argmin(-1)

    @torch.no_grad()
    def update(self, z_e, code):
        """After a training batch is quantized: the usage and, with ema_decay, the vectors move towards the batch's;
        then the restarts. The cluster sizes that divide the sums are Laplace-smoothed, so an unused code is not
        divided by 0."""
        decay = 0.99 if self.ema_decay is None else self.ema_decay
        z = z_e.movedim(-3, -1).reshape(-1, self.vectors.shape[1])
        one_hot = F.one_hot(code.flatten(), self.num_codes).to(z.dtype)
        self.usage.mul_(decay).add_(one_hot.sum(0), alpha=1 - decay)
        if self.ema_decay is not None:
            self.cluster_sums.mul_(decay).add_(one_hot.T @ z, alpha=1 - decay)
            total, eps = self.usage.sum(), 1e-5
            sizes = (self.usage + eps) / (total + self.num_codes * eps) * total
            self.vectors.copy_(self.cluster_sums / sizes[:, None])
        dead = (self.usage < self.restart_below).nonzero().flatten()
        if len(dead):
            self.vectors[dead] = z[torch.randint(len(z), (len(dead),), device=z.device)]
            self.usage[dead] = self.restart_below
            if self.ema_decay is not None:
                self.cluster_sums[dead] = self.vectors[dead] * self.restart_below


class CodeGrid(TorchDistribution):
    """An autoregressive distribution over H x W grids of code indices, in raster order:

        p(code) = prod_(i, j) Categorical(code_ij; softmax(net(code)_ij))

    with `net` masked so that its output at (i, j) reads only the codes before (i, j) (a PixelCNN, van den Oord et
    al. 2016: nets.MaskedConv2d). log_prob scores every position in one pass; sample draws them one at a time."""
    arg_constraints = {}

    def __init__(self, net, num_codes, grid, batch_shape=torch.Size(), validate_args=None):
        self.net, self.num_codes = net, num_codes
        super().__init__(torch.Size(batch_shape), torch.Size(grid), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=2)
    def support(self):
        return constraints.independent(constraints.integer_interval(0, self.num_codes - 1), 2)

    def expand(self, batch_shape, _instance=None):
        return CodeGrid(self.net, self.num_codes, self.event_shape, batch_shape)

    def logits(self, code):
        """(..., H, W) indices -> (..., H, W, K): the logits of each position's code given the codes before it."""
        one_hot = F.one_hot(code.long(), self.num_codes).movedim(-1, -3).float()
        return self.net(one_hot).movedim(-3, -1)

    def log_prob(self, code):
        return dist.Categorical(logits=self.logits(code)).log_prob(code.long()).sum((-2, -1))

    @torch.no_grad()
    def sample(self, sample_shape=torch.Size()):
        device = next(self.net.parameters()).device
        code = torch.zeros(self.shape(sample_shape), dtype=torch.long, device=device)
        for i, j in product(*map(range, self.event_shape)):
            code[..., i, j] = dist.Categorical(logits=self.logits(code)[..., i, j, :]).sample()
        return code


class VQVAE(nn.Module):
    def __init__(self, decoder: nn.Module, codebook: Codebook, grid, likelihood: nn.Module,
                 prior_net: nn.Module | None = None):
        super().__init__()
        self.decoder = decoder
        self.likelihood = likelihood
        self.codebook = codebook
        self.grid = tuple(grid)
        self.prior_net = prior_net

    def prior(self, like):
        if self.prior_net is None:
            return dist.Categorical(logits=like.new_zeros(self.codebook.num_codes)).expand(self.grid).to_event(2)
        return CodeGrid(self.prior_net, self.codebook.num_codes, self.grid)

    def forward(self, x):
        pyro.module("vqvae", self)
        with pyro.plate("data", x.shape[0], device=x.device):
            code = pyro.sample("code", self.prior(x))
            z_q = pyro.sample("z_q", dist.Delta(self.codebook(code), event_dim=3))
            pyro.sample("x", self.likelihood(self.decoder(z_q)).to_event(1), obs=x)

    def shared(self):
        """The codebook, which the guide quantizes to and moves (guides/vqvae.py)."""
        return {"codebook": self.codebook}


CODE_PRIORS = ("pixelcnn", "uniform")


@dataclass
class VQVAEConfig(LikelihoodConfig):
    # Defaults: sized for MNIST on a CPU (the paper has no MNIST model): two 4x4 stride-2 convolutions to a 7x7 grid
    # of codes, as its CIFAR-10 encoder without the residual blocks
    codes: int = option(64, "K, the codebook's size", minimum=2)
    code_dim: int = option(16, "D, the numbers in each code vector", minimum=1)
    channels: list[int] = option([32, 64], "channels of the convolutions, each halving the image, encoder side first",
                                 minimum=1)
    ema_decay: float = option(0.0, "> 0: the codebook follows moving averages of the encoder outputs with this decay "
                              "(0.99 in the paper, app. A.1), not gradients", minimum=0)
    code_prior: str = option("pixelcnn", "the prior over the grid of codes: a PixelCNN learned alongside, or uniform",
                             choices=CODE_PRIORS)
    prior_width: int = option(64, "channels of the PixelCNN prior", minimum=1)
    prior_layers: int = option(5, "masked convolutions of the PixelCNN prior", minimum=1)


def build(cfg: VQVAEConfig, data):
    grid = check_halvable(data.image_shape, len(cfg.channels))
    decoder = []
    for c_in, c_out in zip([1, *cfg.channels[:-1]], cfg.channels):
        decoder = [nn.ReLU(), nn.ConvTranspose2d(c_out, c_in, 4, stride=2, padding=1), *decoder]
    decoder = images(nn.Conv2d(cfg.code_dim, cfg.channels[-1], 3, padding=1), *decoder, nn.Flatten())
    prior = pixelcnn(cfg.codes, cfg.prior_width, cfg.prior_layers) if cfg.code_prior == "pixelcnn" else None
    return VQVAE(decoder, Codebook(cfg.codes, cfg.code_dim, cfg.ema_decay or None), grid, cfg.likelihood_module(),
                 prior)


def encoder(cfg: VQVAEConfig, image_shape, out_dim, extra_inputs=0):
    """Flat images -> maps of out_dim (the guide asks for code_dim) numbers at each position of the grid, the mirror
    of the decoder; images alone (extra_inputs must be 0)."""
    layers = []
    for c_in, c_out in zip([1, *cfg.channels[:-1]], cfg.channels):
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
    return FlatBatch(nn.Sequential(nn.Unflatten(-1, (1, *image_shape)), *layers,
                                   nn.Conv2d(cfg.channels[-1], out_dim, 1)))


VARIANTS = {
    "vqvae": Variant(build, "VQ-VAE: a grid of discrete codes, nearest-code quantization with the straight-through "
                     "gradient, a PixelCNN prior over the codes (van den Oord et al. 2017)", VQVAEConfig, "vq", encoder,
                     # the guide's factors are sites the model lacks, which TraceMeanField_ELBO does not take
                     train={"elbo": "trace"}),
}
