"""A model's test scores, confusion matrix and ROC curves in its run's TensorBoard folder, beside its
training curves and its HParams record (utils/training/hparams.py): evaluate.py writes them as scalars
and images into the folder the model's sidecar records.
"""

from __future__ import annotations

from pathlib import Path

from utils.training.hparams import TEST_METRICS


def write_test_results(logdir: Path, scores: dict, images: dict[str, Path], prefix: str = "test") -> None:
    """Test scores as scalars and PNG plots as images, in the run's TensorBoard folder."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for tag in TEST_METRICS:
            key = tag.split("/", 1)[1]
            tf.summary.scalar(f"{prefix}/{key}", float(scores[key]), step=0)
        for name, path in images.items():
            image = tf.io.decode_png(Path(path).read_bytes(), channels=3)
            tf.summary.image(f"{prefix}/{name}", image[None], step=0)
    writer.close()
