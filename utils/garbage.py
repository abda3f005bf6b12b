"""TensorFlow's import-time objects kept out of the cyclic garbage collector's way.

Importing TensorFlow and Keras makes about 730,000 objects that live as long as the process. While
they are made, CPython's collector runs full collections that walk everything made so far (about
seven during the import), and every later full collection walks them all again: 0.4-0.6 s each on a
2-core AMD EPYC (AVX2), as in Keras's ``clear_session()`` and in each of the TFLite converter's
conversions. ``paused_then_frozen()`` pauses the collector while they are made and then freezes them
(``gc.freeze``): later collections walk only what was made since, and free the same garbage.
Measured side by side: ``python -m bench.imports``.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_then_frozen() -> Iterator[None]:
    """No collection inside; on leaving, everything alive is frozen for the rest of the process (the
    few cycles the import leaves as garbage stay too) and the collector is as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
