"""Issue 31, part 3: the MIG of one trained dSprites model by two codes, the beta-TCVAE authors' (rtqichen/beta-tcvae,
disentanglement_metrics.mutual_info_metric_shapes, set up in ANCHOR_DIR by experiments/mig_anchor.sh) and ours
(ppl_vae/disentanglement.py). The model is a run of ours (RUN_DIR) or a checkpoint of their trainer (--theirs
CHECKPOINT, experiments/tcvae_anchor_train.py):

- theirs: q(z | x) of all 737 280 images of their npz (ours rendered, experiments/dsprites_npz.py), one draw per
  image; H(z_j) and each H(z_j | v_k = v) estimated at `samples` of the draws (their default 10 000) against the
  aggregate of all the images (or of the images sharing v); the 4 factors other than shape; each MI over
  log(levels); MI clamped at 0.
- ours on the posteriors their function computed (all 737 280 images), each entropy at `samples` draws: the same
  quantity by our code.
- for a run of ours, also ours as `evaluate` reports it: mig_posterior, the same estimator on 10 000 training images
  (data.factor_sample), every draw used, the aggregate over those 10 000 images only; with and without shape.

Their function is called as it is, on their VAE or on an object with its interface (encoder(x) -> (mu, log sigma)
per unit, q_dist, z_dim) around our guide; the images are those their Shapes gives, read from the npz.
`--samples` other than 10 000 rebinds the name estimate_entropies in their module to their own function with that
n_samples.

    python experiments/mig_anchor.py ANCHOR_DIR (RUN_DIR | --theirs CHECKPOINT) [--samples S]
"""
import argparse
import functools
import gc
import sys
import time
import types
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppl_vae import disentanglement, evaluate  # noqa: E402
from ppl_vae.runs import load_run  # noqa: E402

DSPRITES_NPZ = "data/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"  # where their lib/datasets.py reads it
THEIR_FACTORS = ("scale", "orientation", "position_x", "position_y")


class Recorded(nn.Module):
    """An encoder of theirs (output: (mu, log sigma) per unit) that keeps the posteriors it gives, in order (their
    metric calls encoder.forward, which hooks do not see)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.loc, self.scale = [], []

    def forward(self, x):
        params = self.encoder(x)
        pairs = params.detach().reshape(len(params), -1, 2)
        self.loc.append(pairs[..., 0])
        self.scale.append(pairs[..., 1].exp())
        return params


class GuideAsEncoder(nn.Module):
    """Our guide as their encoder: per image, each unit's (mu, log sigma) of q(z | x), flattened as their encoder's
    output."""

    def __init__(self, guide):
        super().__init__()
        self.guide = guide

    def forward(self, x):
        loc, scale = evaluate.posterior_moments(self.guide, [(x.reshape(len(x), -1),)], "z")
        return torch.stack([loc, scale.log()], dim=-1).reshape(len(x), -1)


class Shapes(torch.utils.data.Dataset):
    """Their lib/datasets.py's Shapes without its float32 copy of every image (12 GB, more than this machine can
    spare beside its other work): the same npz, each image made float as it is read, as their Shapes gives it."""

    def __init__(self, path):
        arrays = np.load(path)
        self.imgs = torch.from_numpy(arrays["imgs"])
        self.factors = torch.from_numpy(arrays["latents_classes"][:, 2:].astype(np.int64))  # theirs: no colour, shape

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, index):
        return self.imgs[index].float().view(1, 64, 64)


def import_theirs(anchor):
    """Their modules, imported from `anchor` (their data path is relative to it), with stand-ins for what they import
    and nothing here runs: visdom, torchvision (their lib/datasets.py's CelebA; it does not import with a CPU torch),
    their plotting module (it needs brewer2mpl) and their checkpoint loader (it imports their trainer's command
    line). Their Shapes is the one above."""
    for name in ("visdom", "torchvision", "torchvision.datasets", "torchvision.transforms", "plot_latent_vs_true",
                 "metric_helpers.loader"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["metric_helpers.loader"].load_model_and_dataset = None
    sys.modules["plot_latent_vs_true"].plot_vs_gt_shapes = sys.modules["plot_latent_vs_true"].plot_vs_gt_faces = None
    sys.path.insert(0, str(anchor))
    import disentanglement_metrics
    import lib.datasets
    import lib.dist
    import vae_quant
    lib.datasets.Shapes = lambda: Shapes(anchor / DSPRITES_NPZ)
    return types.SimpleNamespace(metrics=disentanglement_metrics, dist=lib.dist, trainer=vae_quant)


def their_vae(theirs, checkpoint):
    """Their VAE (MLP, Normal prior and posterior) with the weights of their trainer's checkpoint."""
    torch.serialization.add_safe_globals([Namespace])
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    vae = theirs.trainer.VAE(z_dim=saved["args"].latent_dim, conv=saved["args"].conv)
    vae.load_state_dict(saved["state_dict"])
    return vae.eval()


def our_vae(theirs, run_dir):
    """What their metric reads of their VAE (encoder, q_dist, z_dim), around our run's guide."""
    _, _, guide, _ = load_run(run_dir, with_data=False)
    vae = nn.Module()
    vae.encoder, vae.q_dist = GuideAsEncoder(guide), theirs.dist.Normal()
    vae.z_dim = evaluate.posterior_moments(guide, [(torch.zeros(1, 64 * 64),)], "z")[0].shape[1]
    return vae


def gaps(information, factors, names):
    """Per factor: the top MI over log(levels) and its gap to the second."""
    top = information.topk(2, dim=0)
    normed = top.values / disentanglement.factor_entropies(factors)
    return {name: (float(normed[0, k]), float(normed[0, k] - normed[1, k]), int(top.indices[0, k]))
            for k, name in enumerate(names)}


def show(title, mig, per_factor, seconds):
    print(f"\n{title}: MIG {mig:.4f}  ({seconds:.0f} s)", flush=True)
    for name, (top, gap, unit) in per_factor.items():
        print(f"  {name:12s} top I / log L {top:.4f} (unit {unit})  gap {gap:.4f}", flush=True)


def ours_as_evaluated(run_dir):
    """mig_posterior with and without shape, as `evaluate` computes it, on 10 000 training images."""
    start = time.time()
    _, _, guide, data = load_run(run_dir)
    sample = data.factor_sample()
    loc, scale = evaluate.posterior_moments(guide, data.batches("train", 1000, shuffle=False, indices=sample), "z")
    factors, names = data.factors["train"][sample], data.factor_names
    information = disentanglement.posterior_information_matrix(loc, scale, factors)
    kept = [k for k, name in enumerate(names) if name != "shape"]
    show(f"ours, as evaluate reports it ({len(sample)} training images, all draws; with shape "
         f"{disentanglement.mig_of(information, factors):.4f}; histogram MIG without shape "
         f"{disentanglement.mig(loc, factors[:, kept]):.4f}), without shape",
         disentanglement.mig_of(information[:, kept], factors[:, kept]),
         gaps(information[:, kept], factors[:, kept], [names[k] for k in kept]), time.time() - start)


def their_metric(theirs, vae, dataset, samples):
    """Their mutual_info_metric_shapes on `vae`; returns the posteriors it used."""
    start = time.time()
    if samples != 10000:
        theirs.metrics.estimate_entropies = functools.partial(theirs.metrics.estimate_entropies, n_samples=samples)
    vae.encoder = recorded = Recorded(vae.encoder)
    torch.manual_seed(0)
    with torch.no_grad():
        mig, marginal, conditional = theirs.metrics.mutual_info_metric_shapes(vae, dataset)
    information = (marginal[None] - conditional).T.double()  # units x factors, as ours
    show(f"theirs, mutual_info_metric_shapes (all {len(dataset)} images, {samples} draws per entropy)", float(mig),
         gaps(information, dataset.factors, THEIR_FACTORS), time.time() - start)
    return torch.cat(recorded.loc), torch.cat(recorded.scale)


def ours_on_all(loc, scale, factors, samples):
    """Our estimator on their posteriors of every image, each entropy at `samples` draws."""
    start = time.time()
    information = disentanglement.posterior_information_matrix(loc, scale, factors, samples=samples,
                                                               dtype=torch.float32)
    show(f"ours on the same posteriors (all {len(factors)} images, {samples} draws per entropy)",
         disentanglement.mig_of(information, factors), gaps(information, factors, THEIR_FACTORS), time.time() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("anchor", type=Path, help="the folder of their files (experiments/mig_anchor.sh)")
    parser.add_argument("run_dir", type=Path, nargs="?", help="a run of ours")
    parser.add_argument("--theirs", type=Path, metavar="CHECKPOINT", help="a checkpoint of their trainer instead")
    parser.add_argument("--samples", type=int, default=10000, help="draws per entropy (theirs: 10 000)")
    args = parser.parse_args()
    if (args.run_dir is None) == (args.theirs is None):
        parser.error("give a run of ours or --theirs CHECKPOINT, one of them")
    anchor = args.anchor.resolve()
    if args.run_dir:
        ours_as_evaluated(args.run_dir)
        gc.collect()
    theirs = import_theirs(anchor)
    vae = their_vae(theirs, args.theirs) if args.theirs else our_vae(theirs, args.run_dir)
    dataset = Shapes(anchor / DSPRITES_NPZ)
    factors = dataset.factors
    loc, scale = their_metric(theirs, vae, dataset, args.samples)
    del dataset
    gc.collect()
    ours_on_all(loc, scale, factors, args.samples)


if __name__ == "__main__":
    main()
