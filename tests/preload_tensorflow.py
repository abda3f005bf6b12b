"""Imported by the fork server of tests/preloaded.py: TensorFlow and Keras, as the scripts import them
(utils sets TensorFlow's options first), then the project's own modules dropped again so that each
forked script imports them afresh under its own environment."""

import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # NumPy's BLAS pool would be a second thread at the fork

from utils.tensorflow_runtime import import_tensorflow  # noqa: E402

import_tensorflow()
del os.environ["OPENBLAS_NUM_THREADS"]
for name in [name for name in sys.modules if name == "utils" or name.startswith("utils.")]:
    del sys.modules[name]
