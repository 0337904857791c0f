"""Pictures of a run: samples from the prior, reconstructions, learning curves.

Every model names its observed site "x"; the pictures show the mean of p(x | z) at that site (pixel probabilities
for Bernoulli pixels), read from Pyro traces, so they work for any (model, guide) pair.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from pyro import poutine  # noqa: E402

from ppl_vae.rundir import atomic_write  # noqa: E402

OBSERVED = "x"


@torch.no_grad()
def prior_means(model, n, data_dim, device):
    """Run the generative program forward n times: z from the prior, then the mean of p(x | z)."""
    placeholder = torch.zeros(n, data_dim, device=device)  # sets the plate size; uncondition ignores its values
    trace = poutine.trace(poutine.uncondition(model)).get_trace(placeholder)
    return trace.nodes[OBSERVED]["fn"].mean


@torch.no_grad()
def reconstruction_means(model, guide, x):
    """z ~ q(z | x), then the mean of p(x | z)."""
    guide_trace = poutine.trace(guide).get_trace(x)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x)
    return model_trace.nodes[OBSERVED]["fn"].mean


def tile(images, image_shape, ncols, pad=2):
    """(N, H*W) images in [0, 1] -> one (rows*(H+pad)+pad, ncols*(W+pad)+pad) array, light grey between tiles."""
    h, w = image_shape
    images = images.reshape(-1, h, w)
    nrows = -(-len(images) // ncols)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 0.5, dtype=np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = image
    return grid


def save_figure(fig, path):
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100, bbox_inches="tight"))
    plt.close(fig)


def save_grid(path, images, image_shape, title, ncols=8):
    grid = tile(torch.as_tensor(images).cpu().numpy(), image_shape, ncols)
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 40, grid.shape[0] / 40 + 0.4))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    save_figure(fig, path)


def save_samples(path, model, n, data_dim, image_shape, device):
    save_grid(path, prior_means(model, n, data_dim, device), image_shape, f"{n} samples: mean of p(x | z), z ~ p(z)")


def save_reconstructions(path, model, guide, x, image_shape, ncols=8):
    """Rows alternate: ncols data images, then their reconstructions."""
    x = x[: len(x) - len(x) % ncols]
    recon = reconstruction_means(model, guide, x)
    rows = torch.stack([x.reshape(-1, ncols, x.shape[-1]), recon.reshape(-1, ncols, x.shape[-1])], dim=1)
    save_grid(path, rows.reshape(-1, x.shape[-1]), image_shape,
              "odd rows: test images; even rows: mean of p(x | z), z ~ q(z | x)", ncols)


def save_curves(path, metrics):
    epochs = [m["epoch"] for m in metrics]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [m["train_elbo"] for m in metrics], "o-", label="training objective (IWAE bound with --elbo iwae)")
    ax.plot(epochs, [m["valid_elbo"] for m in metrics], "s-", label="validation ELBO")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def save_nll_against_k(path, curves, images):
    """One line per trained run: the importance-weighted NLL estimate (-IWAE_k) against k, log-scaled.
    `curves` maps a label to (ks, nlls)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, (ks, nlls) in curves.items():
        ax.plot(ks, nlls, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("k, importance samples per image")
    ax.set_ylabel("test NLL estimate (nats)")
    ax.set_title(f"-IWAE_k on {images} test images")
    ax.legend(fontsize=8)
    save_figure(fig, path)
