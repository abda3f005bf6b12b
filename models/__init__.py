"""Networks of the project. Import the submodule you need (``models.c3d``); importing this package
alone does not load TensorFlow, so scripts can answer ``--help`` and reject bad flags quickly.
"""
