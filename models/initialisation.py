"""Initial weights of the C3D networks: the paper's (``glorot``: Keras's defaults), or ``motion``: He-normal
kernels, zero biases, and conv1's kernels made temporal differences ((w, 0, -w) over three consecutive frames),
so that a random network answers to what changes between frames rather than to the static scene. Why it is
offered, and what it changes: docs/training.md, "Initialisation".
"""

from __future__ import annotations

import keras
import numpy as np

from utils.cli import INITS


def temporal_difference(kernel: np.ndarray) -> np.ndarray:
    """(w, 0, -w) along time from the first time slice of a 3x3x3 kernel, at He's variance."""
    if kernel.ndim != 5 or kernel.shape[0] != 3:
        raise ValueError(f"expected a Conv3D kernel with 3 time taps, got shape {kernel.shape}")
    spatial = kernel[0] * np.sqrt(kernel.shape[0] / 2)  # two nonzero taps carry the variance of three
    return np.stack([spatial, np.zeros_like(spatial), -spatial]).astype(kernel.dtype)


def initialise(model: keras.Model, scheme: str, head: str = "logits") -> None:
    """Set ``model``'s initial weights per ``scheme`` (module docstring), in place.

    The classification ``head`` keeps its own initialisation. He's scale assumes conv1 sees values
    of about unit range (the /255 rescaling, or Sports1MPreprocess with scale 1/255). Draws from
    Keras's global seed (keras.utils.set_random_seed), so a seeded run repeats.
    """
    if scheme not in INITS:
        raise ValueError(f"initialisation {scheme!r}: known ones are {', '.join(INITS)}")
    if scheme == "glorot":
        return
    he = keras.initializers.HeNormal()
    for layer in model.layers:
        if layer.name == head or not isinstance(layer, (keras.layers.Conv3D, keras.layers.Dense)):
            continue
        kernel = np.asarray(he(layer.kernel.shape, dtype="float32"))
        if layer.name == "conv1":
            kernel = temporal_difference(kernel)
        layer.kernel.assign(kernel)
        layer.bias.assign(np.zeros(layer.bias.shape, "float32"))
