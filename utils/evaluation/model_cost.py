"""What a model costs: parameters, floating-point operations per clip, size on disk.

FLOPs are counted layer by layer from the built model's own shapes, under TensorFlow's profiler
convention (``tf.compat.v1.profiler``, which the tests cross-check this count against): a
multiply-add is 2 FLOPs, a bias addition 1 per output, Rescaling 2 per value (multiply, add), the Sports-1M mean
subtraction 1 per value.
Activations, pooling, padding and dropout are not counted (as the profiler does not). So C3D at
16×112×112 costs 77.1 GFLOPs, the "38.5 GFLOPs" usually quoted for it, which counts multiply-adds.

The profiler gives the same totals but freezes the weights into the graph first, which takes
about 25 s for the 78 M-parameter teacher; the per-layer count is instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    flops: int
    parameters: int


def _shape(tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape[1:])  # without the batch axis


def layer_costs(model: keras.Model) -> list[LayerCost]:
    """FLOPs of one clip through each layer of a functional model (nested models are walked into)."""
    costs = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            costs.extend(layer_costs(layer))
            continue
        kind = type(layer).__name__
        flops = 0
        if isinstance(layer, keras.layers.Conv3D):
            out = math.prod(_shape(layer.output))
            kernel = layer.kernel.shape  # (kt, kh, kw, in, out)
            fan_in = math.prod(kernel[:-1])
            flops = 2 * out * fan_in + (out if layer.use_bias else 0)  # kernel holds in/groups already
        elif isinstance(layer, keras.layers.Dense):
            out = math.prod(_shape(layer.output))
            flops = 2 * out * int(layer.kernel.shape[0]) + (out if layer.use_bias else 0)
        elif isinstance(layer, keras.layers.Rescaling):
            flops = 2 * math.prod(_shape(layer.output))
        elif kind == "Sports1MPreprocess":  # models/c3d.py: channel flip (free) and mean subtraction
            flops = math.prod(_shape(layer.output))
        costs.append(LayerCost(layer.name, kind, int(flops), int(layer.count_params())))
    return costs


def flops_per_clip(model: keras.Model) -> int:
    return sum(cost.flops for cost in layer_costs(model))


def parameter_count(model: keras.Model) -> dict:
    """Total and trainable parameters (a TUTL teacher trains only its head)."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return {"parameters": int(model.count_params()), "trainable_parameters": int(trainable)}


def profiler_flops(model: keras.Model) -> int:
    """TensorFlow's profiler count of one clip through ``model`` (slow for big models: see above)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2_as_graph

    from models.logits import inference_call

    spec = tf.TensorSpec((1, *model.inputs[0].shape[1:]), model.inputs[0].dtype)
    concrete = inference_call(model).get_concrete_function(spec)
    frozen, _ = convert_variables_to_constants_v2_as_graph(concrete)
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    return int(tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops)


def size_on_disk(path: Path) -> int:
    return Path(path).stat().st_size


def interleaved_median_seconds(calls: dict, runs: int, rounds: int = 3) -> dict:
    """Median wall time of each of ``calls`` (name -> call()) over about ``runs`` timed calls, taken
    in ``rounds`` alternating rounds. A shared machine's speed drifts over seconds: timed one after
    the other, the drift is credited to whichever form ran in the slow moment; alternating, each
    meets it alike, so their ratio is what the comparison shows."""
    import math

    import numpy as np

    per_round = max(1, math.ceil(runs / rounds))
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            times[name].append(median_call_seconds(call, per_round, warmup=1))  # warm-up: the other runtime's threads settle
    return {name: float(np.median(values)) for name, values in times.items()}


def median_call_seconds(call, runs: int, warmup: int = 2) -> float:
    """Median wall time of ``call()`` over ``runs`` timed calls, after ``warmup`` untimed ones: the one
    timer of the project (evaluate.py's latency and throughput, export_student.py's latency)."""
    import time

    import numpy as np

    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def cpu_speed(model: keras.Model, runs: int = 10, throughput_batch: int = 8) -> dict:
    """Median CPU latency per clip at batch 1, and clips/s at ``throughput_batch``, of inference.

    One compiled call per batch size, then median_call_seconds on random uint8 clips (the cost does
    not depend on the values).
    """
    import numpy as np
    import tensorflow as tf

    from models.logits import inference_call

    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    medians = {}
    with tf.device("/CPU:0"):
        call = inference_call(model)
        for batch in (1, throughput_batch):
            clips = tf.constant(rng.integers(0, 256, (batch, *shape), dtype=np.uint8))
            medians[batch] = median_call_seconds(lambda: call(clips).numpy(), runs)
    return {"latency_ms_per_clip": 1000 * medians[1], "throughput_clips_per_s": throughput_batch / medians[throughput_batch],
            "timing_runs": runs, "throughput_batch": throughput_batch}
