"""Initial weights of the C3D networks: the paper's, or a start that sees motion.

``glorot`` (the paper's): Keras's defaults, Glorot-uniform kernels and zero biases, as the original
Keras 2.7 code had them.

``motion``: He-normal kernels (He et al. 2015, the scale for ReLU layers) and zero biases, with the
first convolution's kernels made **temporal differences**: each conv1 filter is a random spatial
3x3 filter w applied as (w, 0, -w) over three consecutive frames. At initialisation the network
then answers to what changes between frames and not to the static scene.

Why it is offered: with the paper's layers (plain ReLU, no normalisation, dropout after pool3,
pool4, pool5, fc6 and fc7) and Glorot initialisation, a random network's responses are dominated by
the static scene, which is the same for every class; dropout's noise, proportional to those
responses, then hides the small class-dependent part (a linear probe on the pool4 features of a
random width-0.25 teacher scores 80% on the synthetic actions without dropout and 19% with it).
Training sits on the ln(K) loss plateau until early layers have grown motion-selective: 17 epochs
for the student on the synthetic set at Adam 3e-4, against 1 epoch with ``motion``. Only the
starting point changes; the architecture and the loss are the paper's.
"""

from __future__ import annotations

import keras
import numpy as np

INITS = ("glorot", "motion")


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
