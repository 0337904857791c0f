"""ppl-vae: the variational-autoencoder family as Pyro probabilistic programs."""
