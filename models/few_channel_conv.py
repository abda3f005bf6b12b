"""conv1's layer: a Conv3D whose filter gradient is taken one time tap at a time, as 2-D filter gradients.

TensorFlow's 3-D filter gradient (oneDNN) is slow when the input has few channels, as conv1's RGB
input has: on a 2-core AMD EPYC (AVX2) it took 14-17 ms of the demo student's 35-43 ms training step,
against 3.5-4.8 ms for the same gradient as three 2-D ones. A 3×3×3 'same' convolution is the sum over
its 3 time taps of 2-D convolutions of the frames shifted in time, so its filter gradient for tap
``a`` is the 2-D filter gradient of the frames shifted by ``a`` (every frame of every clip as one
image) against the output's gradient. The 2-D kernels' cost grows with the filters and the frame area
faster than the 3-D kernel's: on that CPU they were faster with 4 filters at every frame size measured
(32² to 112²: 1.7-4.2×) and with 16 up to 64×64 frames (1.1-2.5×), but not with 16 at 112×112 (0.76-0.92×)
nor reliably with 64 (0.26-1.13×), so the layer uses them only for at most ``PLANAR_MAX_FILTERS``
filters and filters × frame area within ``PLANAR_BUDGET``, and only on such a CPU: x86 with AVX2 and without
AVX-512. On a 2-core Intel Xeon with AVX-512 and AMX, oneDNN's own 3-D kernel was the faster at every shape
measured (docs/performance.md; ``python -m bench.conv1_gradient`` measures both sides on any CPU). The forward
pass and the input gradient are TensorFlow's own; the filter gradient is the same sum in another order (equal
to float32 rounding). Float32 on CPUs only: other dtypes (mixed bfloat16 or float16) and machines with a GPU keep
TensorFlow's gradient, whose kernels this rewrite has not been measured against.
"""

from __future__ import annotations

import keras

from models.bfloat16_conv import Bfloat16GuardedConv3D, gpu_visible
from utils.machine import cpu_flags

PLANAR_MAX_FILTERS = 16  # where the 2-D gradients were the faster on every shape measured (module docstring)
PLANAR_BUDGET = 65_536  # filters × frame height × frame width


def planar_gradient_pays_on(flags) -> bool:
    """Whether a CPU with these flags is of the class where the 2-D gradients were measured the faster
    (module docstring): with AVX-512 they were the slower, and where nothing was measured (no AVX2: another
    architecture, an older x86; or no flags known: utils.machine reads them from Linux's /proc/cpuinfo)
    TensorFlow's own gradient is kept."""
    return "avx2" in flags and "avx512f" not in flags


def uses_planar_gradient(filters: int, height: int | None, width: int | None) -> bool:
    """At this shape, on this machine: its CPU's class, and no GPU (the rewrite was measured on CPUs only)."""
    return (height is not None and width is not None and filters <= PLANAR_MAX_FILTERS
            and filters * height * width <= PLANAR_BUDGET and planar_gradient_pays_on(cpu_flags())
            and not gpu_visible())


def conv3d_with_planar_filter_gradient(x, kernel):
    """conv3d(x, kernel), stride 1, 'same' padding, channels last; gradients as the module docstring says."""
    import tensorflow as tf

    @tf.custom_gradient
    def convolve(x, kernel):
        def gradient(dy):
            dx = tf.raw_ops.Conv3DBackpropInputV2(input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                                                  strides=[1] * 5, padding="SAME")  # pruned when unused
            return dx, planar_filter_gradient(x, dy, kernel.shape)

        return tf.nn.conv3d(x, kernel, strides=[1] * 5, padding="SAME"), gradient

    # a tensor read from the variable, not the variable: the gradient reaches the variable through the read
    return convolve(tf.convert_to_tensor(x), tf.convert_to_tensor(kernel))


def planar_filter_gradient(x, dy, kernel_shape):
    """d(loss)/d(kernel) of a 'same', stride-1 conv3d with input ``x`` and output gradient ``dy``, as one
    Conv2DBackpropFilter per time tap."""
    import tensorflow as tf

    taps, kernel_h, kernel_w, channels, filters = (int(k) for k in kernel_shape)
    frames, height, width = (tf.shape(x)[i] for i in (1, 2, 3))
    before = (taps - 1) // 2
    padded = tf.pad(x, [[0, 0], [before, taps - 1 - before], [0, 0], [0, 0], [0, 0]])
    images_dy = tf.reshape(dy, [-1, height, width, filters])
    per_tap = [tf.raw_ops.Conv2DBackpropFilter(input=tf.reshape(padded[:, tap:tap + frames], [-1, height, width, channels]),
                                               filter_sizes=[kernel_h, kernel_w, channels, filters],
                                               out_backprop=images_dy, strides=[1, 1, 1, 1], padding="SAME")
               for tap in range(taps)]
    return tf.stack(per_tap)


@keras.saving.register_keras_serializable(package="har_kd")
class FewChannelConv3D(Bfloat16GuardedConv3D):
    """layers.Conv3D with the filter gradient of the module docstring where it applies (float32, stride 1,
    'same' padding, no dilation or groups, channels last, odd kernel, uses_planar_gradient at this shape on
    this machine), and Bfloat16GuardedConv3D's elsewhere."""

    def convolution_op(self, inputs, kernel):
        planar = (keras.backend.backend() == "tensorflow" and self.padding == "same" and self.data_format == "channels_last"
                  and tuple(self.strides) == (1, 1, 1) and tuple(self.dilation_rate) == (1, 1, 1) and self.groups == 1
                  and self.kernel_size[0] % 2 == 1 and keras.backend.standardize_dtype(inputs.dtype) == "float32"
                  and uses_planar_gradient(self.filters, inputs.shape[2], inputs.shape[3]))
        if not planar:
            return super().convolution_op(inputs, kernel)
        return conv3d_with_planar_filter_gradient(inputs, kernel)
