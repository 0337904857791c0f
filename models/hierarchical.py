"""A hierarchy of Gaussian latent layers, generated from the top (the IWAE paper's two-layer model, Burda et al.
2015 sec. 5; the Ladder VAE's, Sønderby et al. 2016 eq. 1-3), with L = len(top_down) + 1 layers:

    z_L ~ Normal(0, I)                                      the top layer, `top_dim` numbers
    z_l | z_(l+1) ~ Normal(top_down[l-1](z_(l+1)))         l = L-1, ..., 1: loc and scale (nets.diagonal_normal)
    x | z_1 ~ Bernoulli(logits = decoder(z_1))

The sites are named z1 (bottom) to zL (top).
"""
import pyro
import pyro.distributions as dist
from torch import nn

from ppl_vae.nets import diagonal_normal


class HierarchicalVAE(nn.Module):
    def __init__(self, top_down: nn.ModuleList, decoder: nn.Module, top_dim: int):
        super().__init__()
        self.top_down = top_down
        self.decoder = decoder
        self.top_dim = top_dim

    def forward(self, x):
        pyro.module("top_down", self.top_down)
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0], device=x.device):
            z = pyro.sample(f"z{len(self.top_down) + 1}", dist.Normal(x.new_zeros(self.top_dim), 1.0).to_event(1))
            for layer in reversed(range(1, len(self.top_down) + 1)):
                z = pyro.sample(f"z{layer}", diagonal_normal(self.top_down[layer - 1](z)).to_event(1))
            pixels = dist.Bernoulli(logits=self.decoder(z), validate_args=False)  # grey x: soft targets
            pyro.sample("x", pixels.to_event(1), obs=x)
