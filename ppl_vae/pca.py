"""Principal component analysis, with the encode/decode interface of a trained pair (plots.latent_means and
plots.decoded_means), for side-by-side pictures. PCA is the linear autoencoder's optimum (Baldi & Hornik 1989) and probabilistic PCA's
limit as its noise goes to 0 (Tipping & Bishop 1999)."""
import torch


class PCA:
    def __init__(self, x, k):
        """The k leading principal directions of the rows of x, from the SVD of the centred data."""
        if not 1 <= k <= min(x.shape):
            raise ValueError(f"PCA: k must be between 1 and {min(x.shape)} for data of shape {tuple(x.shape)}, got {k}")
        self.mean = x.mean(dim=0)
        _, singular_values, right = torch.linalg.svd(x - self.mean, full_matrices=False)
        self.components = right[:k]  # (k, D), orthonormal rows
        self.variances = singular_values[:k] ** 2 / (len(x) - 1)  # of the data along each component

    def encode(self, x):
        return (x - self.mean) @ self.components.T

    def decode(self, z):
        return z @ self.components + self.mean
