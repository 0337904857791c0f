"""Pictures of trained runs side by side, one panel per run (`run.py plot`): which picture a run's pair can have,
and what each panel shows. The drawing itself is plots.py's."""
from functools import partial
from pathlib import Path

import torch
from pyro import poutine

from ppl_vae import disentanglement, evaluate, plots
from ppl_vae.runs import configuration, life, report
from ppl_vae.data import intensities
from ppl_vae.pairs import latent_sites, positional, takes_labels
from ppl_vae.pca import PCA

KINDS = {
    "latent": "codes of the test digits colored by digit (2-D, else their first two principal components)",
    "manifold": "images decoded from a grid of 2-D codes through the inverse normal CDF",
    "traversal": "one row per most active latent unit, swept from -3 to 3 around a test digit's code",
    "interpolation": "images decoded along straight lines between the codes of pairs of test digits",
    "samples": "means of p(x | z) for z from the prior",
    "analogies": "class-conditional models (cvae, m2): test digits, each beside its style z decoded with y = 0..9",
    "layers": "each latent site's KL term and fraction of active units, a row for each run",
    "factors": "images with known factors: how much each unit of z tells of each factor, and its traversal, a row "
               "for each run",
}
PCA_KINDS = ("latent", "interpolation")
CODE_KINDS = ("latent", "manifold", "traversal", "interpolation", "factors")  # pictures of the codes z of a one-layer model


def require_images(config, run_dir):
    if life.is_text_run(run_dir):
        raise ValueError(f"{run_dir}: the {configuration.describe(config)} model's data are sentences, not images (the "
                         "sample, reconstruct and interpolate commands print them)")
    if len(config["image_shape"]) != 2:
        raise ValueError(f"{run_dir}: the {configuration.describe(config)} model's data are vectors of features, not images")


def code_size(kind, run_dir, config, model, guide, test_images):
    """The size of the run's code z (plots.code_site) for a picture of the codes, and its site, with one clear line
    where the pair cannot have the picture of this kind; (None, None) for the other kinds."""
    require_images(config, run_dir)
    if kind == "analogies" and positional(model)[1] < 2:
        raise ValueError(f"{run_dir}: --kind analogies needs a class-conditional model, not "
                         f"{configuration.describe(config)}")
    if kind != "analogies" and takes_labels(model):
        raise ValueError(f"{run_dir}: the {configuration.describe(config)} model takes more than images (its labels, say); "
                         "plot draws models of images alone, but --kind analogies")
    if kind not in CODE_KINDS:
        return None, None
    sites, site = latent_sites(poutine.trace(guide).get_trace(test_images[:1])), plots.code_site(guide, test_images[:1])
    if site not in sites:
        raise ValueError(f"{run_dir}: --kind {kind} draws the codes z of a one-layer model; the "
                         f"{configuration.describe(config)} model's latents are {', '.join(sites)} (try samples or layers)")
    code = sites[site]
    if len(code.event_shape) != 1 or code.support.is_discrete:
        what = "discrete" if code.support.is_discrete else "real"
        raise ValueError(f"{run_dir}: --kind {kind} draws codes z that are vectors of real numbers; the "
                         f"{configuration.describe(config)} model's z is {what}, of shape {tuple(code.event_shape)} (try "
                         "samples)")
    return code.event_shape[0], site


def save_plot(run_dirs, kind, device, pca=False, output=None):
    """The picture of `kind` of each run, side by side (with pca, a PCA panel first); returns the PNG's path."""
    if pca and kind not in PCA_KINDS:
        raise ValueError(f"--pca goes with --kind {' or '.join(PCA_KINDS)}, not {kind}")
    output = Path(output or Path(run_dirs[0]) / f"{kind}.png")
    if kind == "layers":
        layers = {}
        for run_dir in run_dirs:
            config, model, guide, data = life.load_run(run_dir, device)
            layers[Path(run_dir).name] = report.layer_statistics(model, guide,
                                                               configuration.training_of(config, model, guide, data), data)
        plots.save_layers(output, layers)
        return output
    if kind == "factors":
        rows = {}
        for run_dir in run_dirs:
            config, model, guide, data = life.load_run(run_dir, device)
            _, site = code_size(kind, run_dir, config, model, guide, data.images["test"])
            rows[Path(run_dir).name] = factors_row(run_dir, config, model, guide, data, site)
        plots.save_factors(output, rows, data.factor_names, data.image_shape)
        return output
    caption = f"\n{plots.CAPTIONS[kind]}" if kind in plots.CAPTIONS else ""
    panels = {}
    for run_dir in run_dirs:
        config, model, guide, data = life.load_run(run_dir, device)
        size, site = code_size(kind, run_dir, config, model, guide, data.images["test"])
        if pca and not panels:
            fitted = PCA(intensities(data.images["train"]), size)
            panels[f"PCA, {size} components{caption}"] = panel(kind, fitted.encode, fitted.decode, data.images["test"])
        latent = f", {size}-D latent" if size else ""
        title = f"{Path(run_dir).name}: {configuration.describe(config)}{latent}{caption}"
        if kind == "samples":
            panels[title] = plots.prior_means(model, 64, data.dim, device)
        elif kind == "analogies":
            rows = plots.ANALOGY_ROWS
            panels[title] = plots.analogies(model, guide, data.images["test"][:rows],
                                            data.one_hot(data.labels["test"][:rows]))
        else:
            encode = partial(plots.latent_means, guide)
            decode = partial(plots.decoded_means, model, data_dim=data.dim, site=site)
            panels[title] = panel(kind, encode, decode, data.images["test"])
    if kind == "latent":
        plots.save_latent_scatter(output, panels, data.labels["test"])
    else:
        plots.save_image_panels(output, panels, data.image_shape, ncols=plots.PANEL_COLUMNS[kind])
    return output


def panel(kind, encode, decode, test_images):
    """What one panel of a `kind` picture shows, from an encoder and a decoder (of a run, or PCA's)."""
    codes = encode(test_images)
    if kind == "latent":
        return plots.plane(codes)
    if kind == "interpolation":
        return decode(plots.interpolation_codes(codes, plots.INTERPOLATION_PAIRS, plots.PANEL_COLUMNS[kind]))
    if kind == "manifold":
        if codes.shape[1] != 2:
            raise ValueError(f"--kind manifold needs a 2-D latent, this run's has {codes.shape[1]}; try traversal")
        return decode(plots.normal_grid(plots.PANEL_COLUMNS[kind]).to(codes))
    values = torch.linspace(-3, 3, plots.PANEL_COLUMNS[kind])
    return decode(plots.traversal_codes(codes[0], plots.most_active(codes, plots.TRAVERSAL_UNITS), values))


def factors_row(run_dir, config, model, guide, data, site):
    """What a row of the factors picture shows of one run (plots.save_factors): the information of the codes of
    data.factor_sample's training images (from the posteriors where q(z | x) is Gaussian, else from the histogram of
    their means), the KL terms of the test images, the traversal around the first."""
    if not data.factor_names:
        raise ValueError(f"{run_dir}: --kind factors needs images with known factors (--dataset shapes, dsprites or "
                         f"the official dSprites .npz); this run's are {config['data']['dataset']}")
    sample = data.factor_sample()
    codes, scales = evaluate.posterior_moments(guide, data.batches("train", 1000, shuffle=False, indices=sample),
                                               site)
    factors = data.factors["train"][sample].cpu()
    kl = evaluate.unit_kl(model, guide, data.images["test"], site)
    units = kl.argsort(descending=True)
    information = (disentanglement.information_matrix(codes.cpu(), factors) if scales is None else
                   disentanglement.posterior_information_matrix(codes.cpu(), scales.cpu(), factors))
    information = information[units.cpu()] / disentanglement.factor_entropies(factors)
    values = torch.linspace(-3, 3, plots.PANEL_COLUMNS["traversal"])
    center = plots.latent_means(guide, data.images["test"][:1])[0]
    traversal = plots.decoded_means(model, plots.traversal_codes(center, units, values), data.dim, site)
    return units, kl[units], information, traversal
