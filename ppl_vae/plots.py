"""Pictures of runs: samples from the prior, reconstructions, learning curves, and the pictures of the latent space
(codes of the test digits, the 2-D manifold, traversals of single units, interpolations).

The pictures show the mean of p(x | z) at the model's observed site, found from its trace whatever its name (pixel
probabilities for Bernoulli pixels), and the mean of q(z | x) at the site "z" (the code itself for a point-mass
guide), read from Pyro traces, so they work for any (model, guide) pair. Figures have a fixed size in inches, so a
PNG is DPI times that in pixels.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from pyro import poutine  # noqa: E402

from ppl_vae.evaluate import site_mean, traces  # noqa: E402
from ppl_vae.pairs import latent_sites, observed_site  # noqa: E402
from ppl_vae.pca import PCA  # noqa: E402
from ppl_vae.rundir import atomic_write  # noqa: E402

LATENT = "z"  # the site of the codes in the pictures of the latent space (or a guide's only latent site)
DPI = 100
PANEL_INCHES = 3.2  # width of one panel of a side-by-side figure
# images per row in the latent-space pictures, and what the rows are
PANEL_COLUMNS = {"manifold": 20, "traversal": 9, "interpolation": 10, "samples": 8, "analogies": 11}
TRAVERSAL_UNITS = 10  # rows of a traversal: the most active units
INTERPOLATION_PAIRS = 5  # rows of an interpolation: test images 0 -> 1, 2 -> 3, ...
ANALOGY_ROWS = 10  # rows of the analogies: the first test images
CAPTIONS = {
    "manifold": "z from the inverse normal CDF of 0.05..0.95",
    "traversal": "rows: most active units; z_u from -3 to 3",
    "interpolation": "rows: test image 2i to 2i+1",
    "samples": "mean of p(x | z), z ~ p(z)",
    "analogies": "rows: test image, then y = 0..9 with its z",
}


@torch.no_grad()
def observed_means(model, *args):
    """Run the generative program forward on its arguments, its latents drawn from its prior (or as conditioned):
    the mean of the distribution at "x". The values of the images among the arguments are not scored here, only
    read by programs that condition on part of them."""
    trace = poutine.trace(model).get_trace(*args)
    return trace.nodes[observed_site(trace, args[0])]["fn"].mean


def prior_means(model, n, data_dim, device, *args):
    """n images from the generative program: z from the prior, then the mean of p(x | z). `args` follow the images,
    e.g. the one-hot classes of a conditional model."""
    return observed_means(model, torch.zeros(n, data_dim, device=device), *args)  # the zeros set the plate size


@torch.no_grad()
def reconstruction_means(model, guide, *args):
    """z ~ q(z | x), then the mean of p(x | z); `args`: the programs' arguments, images first."""
    model_trace = traces(model, guide, *args)[1]
    return model_trace.nodes[observed_site(model_trace, args[0])]["fn"].mean


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
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI))
    plt.close(fig)


def save_grid(path, images, image_shape, title, ncols=PANEL_COLUMNS["samples"]):
    save_image_panels(path, {title: images}, image_shape, ncols)


def save_image_panels(path, panels, image_shape, ncols, width=PANEL_INCHES):
    """One tiled grid of images per panel, side by side. `panels` maps a title to (N, H*W) images in [0, 1], the same
    N for every panel; each panel is `width` inches wide."""
    grids = [tile(torch.as_tensor(images).clamp(0, 1).cpu().numpy(), image_shape, ncols) for images in panels.values()]
    height = width * grids[0].shape[0] / grids[0].shape[1] + 0.5  # room for a two-line title
    fig, axes = plt.subplots(1, len(grids), figsize=(width * len(grids), height), squeeze=False, layout="constrained")
    for ax, title, grid in zip(axes[0], panels, grids):
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    save_figure(fig, path)


def save_samples(path, model, n, data_dim, image_shape, device):
    save_grid(path, prior_means(model, n, data_dim, device), image_shape, f"{n} samples: mean of p(x | z), z ~ p(z)")


def save_class_samples(path, model, labels, per_label, num_classes, data_dim, image_shape, device):
    """One row of `per_label` samples for each of `labels`: the class y given, z from the prior."""
    y = torch.nn.functional.one_hot(torch.tensor(labels, device=device).repeat_interleave(per_label), num_classes)
    images = prior_means(model, len(y), data_dim, device, y.float())
    save_grid(path, images, image_shape, f"rows: y = {', '.join(map(str, labels))}\nmean of p(x | y, z), z ~ p(z)",
              ncols=per_label)


def save_reconstructions(path, model, guide, batch, image_shape, ncols=8):
    """Rows alternate: ncols data images, then their reconstructions. `batch`: the programs' arguments, images
    first, as many as make whole rows."""
    x = batch[0]
    recon = reconstruction_means(model, guide, *batch)
    rows = torch.stack([x.reshape(-1, ncols, x.shape[-1]), recon.reshape(-1, ncols, x.shape[-1])], dim=1)
    save_grid(path, rows.reshape(-1, x.shape[-1]), image_shape,
              "odd rows: test images\neven rows: mean of p(x | z), z ~ q(z | x)", ncols)


@torch.no_grad()
def save_completions(path, model, x, image_shape, draws=7):
    """For each test image (a row): the image, what the model is shown (hidden pixels grey), then `draws`
    completions: the seen pixels kept, the hidden ones the mean of p(x_hidden | z, x_seen), z from the model's
    prior. The model has a boolean `seen` mask over the pixels."""
    seen = model.seen
    shown = torch.where(seen, x, torch.full_like(x, 0.5))
    completions = [torch.where(seen, x, observed_means(model, x)) for _ in range(draws)]
    rows = torch.stack([x, shown, *completions], dim=1)
    save_grid(path, rows.reshape(-1, x.shape[-1]), image_shape,
              "rows: test image, what is seen, completions", ncols=draws + 2)


def save_curves(path, metrics):
    """The training objective and the validation bounds of each epoch of SVI (a pretraining's epochs left out)."""
    metrics = [m for m in metrics if "train_elbo" in m]
    epochs = [m["epoch"] for m in metrics]
    fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    ax.plot(epochs, [m["train_elbo"] for m in metrics], "o-", label="training objective")
    ax.plot(epochs, [m["valid_elbo"] for m in metrics], "s-", label="validation ELBO")
    ax.plot(epochs, [m["valid_recon"] for m in metrics], "^-", label="validation log p(x | z), z ~ q(z | x)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def save_layers(path, runs):
    """Per latent site, in the order the guide draws them: its KL term, and the fraction of its units that are
    active; a row of two panels per run, as runs differ in their sites. `runs`: run name -> evaluate.layer_statistics."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(2 * PANEL_INCHES, 3.2 * len(runs)), layout="constrained",
                             squeeze=False)
    for (kl_ax, active_ax), (name, layers) in zip(axes, runs.items()):
        positions = np.arange(len(layers))
        kl_ax.bar(positions, [layer["kl"] for layer in layers.values()])
        active_ax.bar(positions, [layer["active"] / layer["units"] for layer in layers.values()])
        for ax in (kl_ax, active_ax):
            ax.set_xticks(positions, [f"{site}\n{layer['units']}" for site, layer in layers.items()])
        kl_ax.set_title(name, loc="left")
        kl_ax.set_ylabel("KL term, nats per image")
        active_ax.set_ylabel("active units (Cov_x E_q[u | x] > 0.01)")
        active_ax.set_ylim(0, 1)
    save_figure(fig, path)


def save_factors(path, runs, factor_names, image_shape, ncols=PANEL_COLUMNS["traversal"]):
    """A row per run: the information each latent unit holds about each factor, I(z_u; v_k) / H(v_k), as a heat map,
    and beside it the unit's traversal, the units in the order of their KL terms, largest first, each row named by
    the factor it tells most about (none below 0.02). `runs` maps a run's name to (units, their KL terms, information matrix, the
    decoded traversal: a row of `ncols` images per unit)."""
    fig, axes = plt.subplots(len(runs), 2, figsize=(2.4 * PANEL_INCHES, 3.6 * len(runs)), layout="constrained",
                             squeeze=False, width_ratios=(1, 1.2))
    for (heat_ax, traversal_ax), (name, (units, kl, information, images)) in zip(axes, runs.items()):
        information = information.cpu().numpy()
        cells = heat_ax.imshow(information, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        for (row, column), value in np.ndenumerate(information):
            heat_ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=6,
                         color="black" if value > 0.5 else "white")
        heat_ax.set_xticks(range(len(factor_names)), factor_names, rotation=30, fontsize=7)
        heat_ax.set_yticks(range(len(units)), [f"z{u} (KL {k:.2f})" for u, k in zip(units.tolist(), kl.tolist())],
                           fontsize=7)
        heat_ax.set_title(f"{name}: I(z_u; v_k) / H(v_k)", loc="left", fontsize=8)
        grid = tile(torch.as_tensor(images).clamp(0, 1).cpu().numpy(), image_shape, ncols)
        traversal_ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        row_height = grid.shape[0] / len(units)
        traversal_ax.set_yticks((np.arange(len(units)) + 0.5) * row_height,
                                [factor_names[k] if information[u, k] >= 0.02 else "(none)"
                                 for u, k in enumerate(information.argmax(1))], fontsize=7)
        traversal_ax.set_xticks([])
        traversal_ax.set_title("z_u from -3 to 3 around a test image's code", fontsize=8)
    fig.colorbar(cells, ax=axes[:, 0].tolist(), shrink=0.6)
    save_figure(fig, path)


def save_nll_against_k(path, curves, images):
    """One line per trained run: the importance-weighted NLL estimate (-IWAE_k) against k, log-scaled.
    `curves` maps a label to (ks, nlls)."""
    fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    for label, (ks, nlls) in curves.items():
        ax.plot(ks, nlls, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("k, importance samples per image")
    ax.set_ylabel("test NLL estimate (nats)")
    ax.set_title(f"-IWAE_k on {images} test images")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def save_bounds(path, report, title):
    """Wu et al.'s picture of a pair's bounds: log p(x) against seconds per image, one panel per split of the
    `bounds` report (ppl_vae/bounds.py): IWAE_k and AIS from below, and on simulated images reverse AIS from above.
    Every point is a mean over the same images, so no error bars: their spread over images is common to all."""
    styles = {"iwae": ("o-", "IWAE_k (k beside each point)"), "ais": ("s-", "AIS (steps beside each point)"),
              "bdmc_upper": ("v--", "reverse AIS: upper bound")}
    fig, axes = plt.subplots(1, len(report), figsize=(5.5 * len(report), 4), layout="constrained", squeeze=False)
    for ax, (split, methods) in zip(axes[0], report.items()):
        for method, (style, label) in styles.items():
            points = methods.get(method, {})
            if not points:
                continue
            seconds = [result["seconds_per_image"] for result in points.values()]
            log_px = [result["log_px"] for result in points.values()]
            ax.plot(seconds, log_px, style, label=label)
            for setting, x, y in zip(points, seconds, log_px):
                ax.annotate(setting, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image")
        ax.set_ylabel("log p(x) estimate, nats per image")
        ax.set_title(f"{title}: {split} ({methods['images']} images)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, path)


@torch.no_grad()
def analogies(model, guide, x, y):
    """Each image (a row) beside the model's images of every class in its style (Kingma et al. 2014, fig. 1): z held
    at the mean of q(z | x, y) for the image's own one-hot label y, decoded with each class in turn."""
    num_classes = y.shape[-1]
    z = poutine.trace(guide).get_trace(x, y).nodes[LATENT]["fn"].mean.repeat_interleave(num_classes, dim=0)
    every_class = torch.eye(num_classes).to(y).repeat(len(x), 1)
    images = observed_means(poutine.condition(model, {LATENT: z}), x.repeat_interleave(num_classes, dim=0), every_class)
    return torch.cat([x.unsqueeze(1), images.reshape(len(x), num_classes, -1)], dim=1).reshape(-1, x.shape[-1])


@torch.no_grad()
def code_site(guide, x):
    """The site whose values the pictures of the latent space show: z, or the guide's only latent site, whatever it
    is named (Pyro's examples name it "latent")."""
    sites = latent_sites(poutine.trace(guide).get_trace(x))
    return LATENT if LATENT in sites or len(sites) != 1 else next(iter(sites))


@torch.no_grad()
def latent_means(guide, images, batch_size=1000):
    """The mean of q(z | x) for each image: the codes of an encoder (one draw for a guide with no closed-form mean),
    at the guide's code_site."""
    site = code_site(guide, images[:1])
    return torch.cat([site_mean(poutine.trace(guide).get_trace(x).nodes[site]) for x in images.split(batch_size)])


def decoded_means(model, z, data_dim, site=LATENT):
    """The mean of p(x | z) for each row of z, the values of the model's `site`: the images of a decoder."""
    return observed_means(poutine.condition(model, {site: z}), z.new_zeros(len(z), data_dim))


def plane(codes):
    """Codes as points of a plane, with the axes' names: themselves if 2-D, else their two principal components."""
    if codes.shape[1] == 2:
        return codes, ("z1", "z2")
    return PCA(codes, 2).encode(codes), ("principal component 1 of the codes", "principal component 2")


def save_latent_scatter(path, panels, labels):
    """The codes of the test images, one dot per image colored by its digit; `panels` maps a title to (N, 2) points
    and the axes' names."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels) + 0.8, 4), squeeze=False, layout="constrained")
    for ax, (title, (points, axis_names)) in zip(axes[0], panels.items()):
        points = points.cpu().numpy()
        dots = ax.scatter(points[:, 0], points[:, 1], c=labels.cpu().numpy(), cmap="tab10", vmin=-0.5, vmax=9.5,
                          s=2, alpha=0.6, linewidths=0)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(axis_names[0], fontsize=8)
        ax.set_ylabel(axis_names[1], fontsize=8)
    fig.colorbar(dots, ax=axes[0].tolist(), ticks=range(10), label="digit")
    save_figure(fig, path)


def normal_grid(n):
    """An n x n grid of 2-D codes evenly spaced in probability under N(0, I): the inverse normal CDF of 0.05..0.95
    on each axis (the 2-D manifold figure of Kingma & Welling 2014, fig. 4). Rows run top to bottom from high z2 to
    low, columns left to right from low z1 to high."""
    values = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))
    z2, z1 = torch.meshgrid(values.flip(0), values, indexing="ij")
    return torch.stack([z1.flatten(), z2.flatten()], dim=-1)


def most_active(codes, units):
    """The `units` most active latent units, most active first: by the variance of `codes` across images (Burda et
    al. 2015's activity)."""
    return codes.var(dim=0).argsort(descending=True)[:units]


def traversal_codes(center, chosen, values):
    """For each of the `chosen` latent units, `center` with that unit set to each of `values` in turn: a row per
    unit."""
    rows = center.repeat(len(chosen), len(values), 1)
    rows[torch.arange(len(chosen)), :, chosen] = values.to(center)
    return rows.reshape(-1, len(center))


def interpolation_codes(codes, pairs, steps):
    """`steps` codes evenly spaced from codes[2i] to codes[2i + 1] for i < pairs: one row of codes per pair."""
    start, end = codes[0 : 2 * pairs : 2], codes[1 : 2 * pairs : 2]
    t = torch.linspace(0, 1, steps, device=codes.device)[:, None]
    return (start[:, None] * (1 - t) + end[:, None] * t).reshape(-1, codes.shape[-1])
