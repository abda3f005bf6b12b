"""Mixed-precision training, with float32 logits and loss, and float32 saved models.

``--mixed_precision float16|bfloat16`` computes convolutions and dense layers in 16 bits with
float32 variables. The logits layer computes in float32 (models/c3d.py), the losses and the
distillation softmax run on float32 values, and Keras wraps the optimizer in loss scaling under
float16. ``auto`` (the scripts' default) picks what the hardware computes fast: bfloat16 on a CPU
with bfloat16 matrix units (AVX-512 BF16 or AMX-BF16) and on GPUs of compute capability 8.0 or more
(A100, H100, RTX 30xx and later), float16 on older GPUs (tensor cores since V100/T4), and float32
elsewhere, where 16-bit compute is emulated and slower. ``off`` is the paper's exact float32
protocol.

Saved models are always float32: precision is a training setting, not part of the model, and a
16-bit model would run slowly (or not at all) where it is deployed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def resolve_precision(requested: str) -> tuple[str, str]:
    """(the precision to train in, why) for --mixed_precision; ``auto`` looks at the hardware."""
    if requested != "auto":
        return requested, "as asked"
    import tensorflow as tf

    from utils.machine import cpu_flags, has_native_bfloat16

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
        if capability and tuple(capability) >= (8, 0):
            return "bfloat16", f"auto: GPU of compute capability {capability[0]}.{capability[1]}"
        return "float16", f"auto: GPU of compute capability {capability or 'unknown'}, below 8.0"
    if has_native_bfloat16():
        units = [flag for flag in cpu_flags() if flag in ("avx512_bf16", "amx_bf16")]
        return "bfloat16", f"auto: this CPU has {' and '.join(units)}"
    return "off", "auto: this CPU has no bfloat16 matrix units (avx512_bf16, amx_bf16), float32 is faster"


def set_precision(precision: str) -> None:
    """Set Keras's global dtype policy; call before any model is built."""
    import keras

    keras.mixed_precision.set_global_policy("float32" if precision == "off" else f"mixed_{precision}")


@contextlib.contextmanager
def float32_policy() -> Iterator[None]:
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_config(config):
    """A model config with every layer's dtype policy set to float32 (weights keep their values)."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [float32_config(value) for value in config]
    if config in ("mixed_float16", "mixed_bfloat16"):  # a policy given by name
        return "float32"
    return config


def check_supported(precision: str, jit_compile: str) -> None:
    """InputError for float16 on a machine without a GPU: TensorFlow has no float16 CPU kernel for
    3-D pooling (only XLA's has one)."""
    import tensorflow as tf

    from utils.errors import InputError

    if precision == "float16" and jit_compile != "on" and not tf.config.list_physical_devices("GPU"):
        raise InputError("--mixed_precision float16: no GPU here, and TensorFlow's CPU kernels have no float16 "
                         "3-D pooling; use bfloat16, or add --jit_compile on")
