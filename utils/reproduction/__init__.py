"""The paper's whole protocol, per seed, and its table."""
