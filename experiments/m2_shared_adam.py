"""Lead (3) of issue 16: does a Pyro SVI step move parameters when its loss scores nothing? Pyro's ss_vae_M2.py steps
two SVI objects sharing one pyro.optim.Adam on every batch, and its auxiliary program, which calls pyro.module on the
whole network, scores nothing on an unlabelled batch.   python experiments/m2_shared_adam.py"""
import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam

pyro.set_rng_seed(0)
net = torch.nn.Linear(3, 1)


def regression(x, y=None):
    pyro.module("net", net)
    if y is not None:  # as the auxiliary program: a term only when labels are given
        with pyro.plate("data", len(x)):
            pyro.sample("y", dist.Normal(net(x).squeeze(-1), 1.0), obs=y)


svi = SVI(regression, lambda x, y=None: None, Adam({"lr": 0.01}), Trace_ELBO())
x, y = torch.randn(8, 3), torch.randn(8)
for _ in range(3):
    svi.step(x, y)
    before = net.weight.detach().clone()
    svi.step(x)  # loss 0: no backward; the gradients SVI zeroed after the last step are zeros, not None
    moved = (net.weight.detach() - before).abs().max().item()
    print(f"a step that scores nothing moved the weights by up to {moved:.2e} (lr 0.01)")
