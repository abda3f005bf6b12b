"""A linear probe: how much of a target data set's classes a frozen network's features already separate.

The TUTL teacher keeps C3D frozen through fc7 and trains a new head, so its accuracy is bounded by
what fc7's features say about the target's classes. The probe measures that directly: fc7's
activations (ReLU, no dropout) of the target's training clips train a multinomial logistic
regression (standardised features, scikit-learn's L2 default), which is scored on the test clips.
A stand-in for Sports-1M whose probe is near chance on the target cannot be what a TUTL row tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from utils.data.frames_data import FramesData
from utils.data.splits import Split


def fc7_features(weights_path: Path, data: FramesData, indices: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """fc7's activations (clips × units) of the port-layout network in ``weights_path`` on the clips."""
    import keras

    from models.sports1m import sports1m_c3d_full
    from utils.training.input_pipeline import clip_dataset

    network = sports1m_c3d_full(weights_path, data.clip_shape)
    features = keras.Model(network.input, network.get_layer("fc7").output)
    rows = [features(clips, training=False).numpy()
            for clips, _ in clip_dataset(data, indices, batch_size, shuffle=False)]
    return np.concatenate(rows).astype(np.float64)


def linear_probe(weights_path: Path, data: FramesData, split: Split) -> dict:
    """Train on ``split.train``, score on ``split.test``; accuracies as fractions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = fc7_features(weights_path, data, split.train)
    test = fc7_features(weights_path, data, split.test)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    probe.fit(train, data.labels[split.train])
    return {"train_accuracy": float(probe.score(train, data.labels[split.train])),
            "test_accuracy": float(probe.score(test, data.labels[split.test])),
            "train_clips": int(len(split.train)), "test_clips": int(len(split.test))}
