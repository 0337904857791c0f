"""Issue 31, part 3: Chen et al.'s own trainer (rtqichen/beta-tcvae, vae_quant.py, set up in ANCHOR_DIR by
experiments/mig_anchor.sh) for a given number of steps, on the CPU:

    python experiments/tcvae_anchor_train.py ANCHOR_DIR SAVE_DIR --steps N [their flags, e.g. --beta 6 --tcvae]

Their main() runs as it is, with --save SAVE_DIR --log_freq N added to their flags: at step N it saves its
checkpoint (SAVE_DIR/checkpt-0000.pth), then calls its plot_vs_gt_shapes, which here ends the run. What their
modules import and this does not use is stood in for as experiments/mig_anchor.py does (import_theirs), and their
Shapes by the one there, which holds the images as bytes rather than their 12 GB float copy and gives the same
float images.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mig_anchor import import_theirs  # noqa: E402


class Stop(Exception):
    pass


def stop(*args, **kwargs):
    raise Stop


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("anchor", type=Path)
    parser.add_argument("save", type=Path)
    parser.add_argument("--steps", type=int, required=True)
    args, theirs_flags = parser.parse_known_args()
    theirs = import_theirs(args.anchor.resolve())
    theirs.trainer.plot_vs_gt_shapes = stop
    save = args.save.resolve()
    sys.argv = ["vae_quant.py", *theirs_flags, "--save", str(save), "--log_freq", str(args.steps)]
    print("their flags:", " ".join(sys.argv[1:]), "  threads:", torch.get_num_threads(), flush=True)
    try:
        theirs.trainer.main()
    except Stop:
        print(f"stopped after step {args.steps}: {save / 'checkpt-0000.pth'}")


if __name__ == "__main__":
    main()
