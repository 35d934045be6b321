"""Training recipes (SFT for instruction mixtures) and the pieces they share: mixtures, batching, checkpoints."""
