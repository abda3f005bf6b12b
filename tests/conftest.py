import utils  # noqa: F401  sets TensorFlow's CPU options (utils/__init__.py) before any test imports it
