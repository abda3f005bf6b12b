"""Shared code of the scripts. Importing it first keeps TensorFlow's start-up log lines quiet."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
