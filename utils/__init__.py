"""Shared code of the scripts. Importing it first sets TensorFlow's CPU options before TF loads.

TF_ENABLE_ONEDNN_OPTS=1: TensorFlow enables its oneDNN kernels by default only on some Intel CPUs;
elsewhere (AMD EPYC, for one) Conv3D training steps ran 5x slower without them (see README,
Performance). Both settings can be overridden from the environment.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
