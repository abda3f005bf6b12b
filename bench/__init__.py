"""Benchmarks: ``python -m bench`` runs them all (see bench/__main__.py)."""

import utils  # noqa: F401  sets TensorFlow's CPU options before any benchmark imports it
