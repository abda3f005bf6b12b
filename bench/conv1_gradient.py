"""conv1's filter gradient: TensorFlow's 3-D kernel against models/few_channel_conv.py's per-time-tap 2-D ones.

  gradient  the filter gradient alone (batch 8, 3 input channels) at the demo's clip (16×32×32) and the
            paper's (16×112×112), with conv1's filter counts of the student and teacher at the demo's width
            (0.25) and at the paper's (1.0), and shapes at the edges of where the layer uses them (at most 16
            filters, filters × frame area at most 65,536); each row says whether FewChannelConv3D uses
            the 2-D gradients at that shape on this machine, and the row's target is that it uses them
            where they are the faster
  step      a whole training step (Adam, batch 8) of the demo's student and teacher, 16×32×32, with conv1
            taking the 2-D gradients and with conv1 a plain Conv3D, the same weights; each row says whether
            the models use the 2-D gradients there on this machine (FewChannelConv3D takes them only on a CPU
            with AVX2 and without AVX-512, and no GPU); no target: the demo's small networks are often
            within noise of each other

Both sides of each pair are timed in alternating rounds in one process (the median call, by
utils/evaluation/model_cost.interleaved_median_seconds, the timer evaluate.py and export_student.py use).
Float32, as the layer uses its gradient only there.

    python -m bench.conv1_gradient [--large]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.results import save_measurement

ROOT = Path(__file__).resolve().parents[1]
GRADIENT_CASES = (("demo student", (16, 32, 32), 4), ("demo teacher", (16, 32, 32), 16),
                  ("at the budget", (16, 64, 64), 16), ("paper's clip, student at width 0.25", (16, 112, 112), 4),
                  ("over the filter limit", (16, 32, 32), 32), ("paper student", (16, 112, 112), 16),
                  ("paper teacher", (16, 112, 112), 64))
BATCH = 8


def side_by_side(planar, tensorflow, rounds: int) -> tuple[float, float]:
    """Median seconds per call of each side, timed in alternating rounds by the project's one timer."""
    from utils.evaluation.model_cost import interleaved_median_seconds

    seconds = interleaved_median_seconds({"planar": planar, "tensorflow": tensorflow}, runs=5 * rounds, rounds=rounds)
    return seconds["planar"], seconds["tensorflow"]


def gradient_case(clip: tuple[int, int, int], filters: int, rounds: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from models.few_channel_conv import planar_filter_gradient, uses_planar_gradient

    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((BATCH, *clip, 3), np.float32))
    dy = tf.constant(rng.standard_normal((BATCH, *clip, filters), np.float32))
    shape = (3, 3, 3, 3, filters)
    stock = tf.function(lambda: tf.raw_ops.Conv3DBackpropFilterV2(input=x, filter_sizes=shape, out_backprop=dy,
                                                                   strides=[1] * 5, padding="SAME"))
    planar = tf.function(lambda: planar_filter_gradient(x, dy, shape))
    reference = stock().numpy()
    difference = float(np.abs(planar().numpy() - reference).max() / np.abs(reference).max())
    ours, theirs = side_by_side(lambda: planar().numpy(), lambda: stock().numpy(), rounds)
    return {"planar_seconds": ours, "tensorflow_seconds": theirs, "relative_difference": difference,
            "used": uses_planar_gradient(filters, clip[1], clip[2])}


def with_conv1(model, planar: bool):
    """The same network and weights with conv1 taking the 2-D gradients whatever the CPU (planar) or a plain
    layers.Conv3D (TensorFlow's own gradient)."""
    import keras

    from models.few_channel_conv import FewChannelConv3D, conv3d_with_planar_filter_gradient

    class PlanarConv3D(keras.layers.Conv3D):
        def convolution_op(self, inputs, kernel):
            return conv3d_with_planar_filter_gradient(inputs, kernel)

    conv1 = PlanarConv3D if planar else keras.layers.Conv3D

    def clone(layer):
        kind = conv1 if isinstance(layer, FewChannelConv3D) else layer.__class__
        return kind.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def step_case(role: str, rounds: int) -> dict:
    import keras
    import numpy as np

    from models.c3d import student_c3d, teacher_c3d
    from models.few_channel_conv import uses_planar_gradient
    from utils.training.trainer import compile_classifier

    keras.utils.set_random_seed(0)
    model = (student_c3d if role == "student" else teacher_c3d)(6, (16, 32, 32, 3), width=0.25)
    ours, plain = with_conv1(model, planar=True), with_conv1(model, planar=False)
    clips = np.random.default_rng(0).integers(0, 256, (BATCH, 16, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(BATCH) % 6
    for network in (ours, plain):
        compile_classifier(network, 1e-4)
        network.train_on_batch(clips, labels)  # tracing, then oneDNN's primitive set-up
    mine, theirs = side_by_side(lambda: ours.train_on_batch(clips, labels),
                                lambda: plain.train_on_batch(clips, labels), rounds)
    return {"planar_seconds": mine, "tensorflow_seconds": theirs,
            "used": uses_planar_gradient(model.get_layer("conv1").filters, 32, 32)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="3x the rounds")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "conv1_gradient.json")
    args = parser.parse_args(argv)
    from utils.tensorflow_runtime import import_tensorflow

    import_tensorflow()
    rounds = 15 if args.large else 5
    result = {"batch": BATCH, "gradient": [], "step": []}
    for name, clip, filters in GRADIENT_CASES:
        measured = gradient_case(clip, filters, rounds)
        result["gradient"].append({"case": name, "clip": list(clip), "filters": filters, **measured})
    for role in ("student", "teacher"):
        result["step"].append({"case": f"demo {role}", **step_case(role, rounds)})
    save_measurement(args.json, result)
    for g in result["gradient"]:
        print(f"conv1 filter gradient, {g['case']} ({'×'.join(map(str, g['clip']))}, 3→{g['filters']}): "
              f"{1e3 * g['planar_seconds']:.2f} ms per-tap 2-D against {1e3 * g['tensorflow_seconds']:.2f} ms 3-D: "
              f"{g['tensorflow_seconds'] / g['planar_seconds']:.2f}x faster (difference {g['relative_difference']:.0e}; "
              f"{'used' if g['used'] else 'not used'} there)")
    for s in result["step"]:
        print(f"training step, {s['case']}: {1e3 * s['planar_seconds']:.1f} ms with conv1's 2-D gradients against "
              f"{1e3 * s['tensorflow_seconds']:.1f} ms with TensorFlow's: {s['tensorflow_seconds'] / s['planar_seconds']:.2f}x "
              f"faster ({'used' if s['used'] else 'not used'} there)")
    return result


if __name__ == "__main__":
    main()
