"""The samples of the Bernoulli and the continuous-Bernoulli VAEs on grey MNIST side by side, the same z ~ p(z) for
both: the Bernoulli's mean of p(x | z) (its parameter), and for the continuous Bernoulli both its parameter lambda =
sigmoid(logits), which its authors' code displays, and its mean, which lambda is not.

    python experiments/cb_samples.py runs/grey-bernoulli runs/grey-continuous-bernoulli -o docs/continuous-bernoulli-samples.png
"""
import argparse
from pathlib import Path

import torch
from pyro import poutine

from ppl_vae import plots
from ppl_vae.runs import load_run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bernoulli", type=Path)
    parser.add_argument("continuous_bernoulli", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    z = torch.randn(64, 50)
    panels = {}
    for run_dir, shown in ((args.bernoulli, ("mean",)), (args.continuous_bernoulli, ("lambda", "mean"))):
        _, model, _, _ = load_run(run_dir, with_data=False)
        conditioned = poutine.condition(model, {plots.LATENT: z})
        pixels = poutine.trace(conditioned).get_trace(z.new_zeros(64, 784)).nodes[plots.OBSERVED]["fn"].base_dist
        for statistic in shown:
            title = f"{run_dir.name}: {statistic}" + (" (= its parameter)" if run_dir == args.bernoulli else "")
            panels[title] = (pixels.mean if statistic == "mean" else pixels.probs).detach()
    plots.save_image_panels(args.output, panels, (28, 28), ncols=8)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
