"""Shared code of the scripts. Importing it first sets TensorFlow's CPU options before TF loads.

TF_ENABLE_ONEDNN_OPTS=1: TensorFlow enables its oneDNN kernels by default only on some Intel CPUs;
elsewhere (AMD EPYC, for one) Conv3D training steps ran 5x slower without them (see README,
Performance).
TF_CPP_MIN_LOG_LEVEL=3: TensorFlow's C++ log lines (e.g. "failed call to cuInit" on a machine
without a GPU driver) would break the scripts' one-line error contract; errors that matter reach
Python as exceptions. Both settings can be overridden from the environment (see README,
Troubleshooting).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
