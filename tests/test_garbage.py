"""utils/garbage.py: no full collection while a library imports, its objects frozen after, and later
collections still free new cycles."""

import gc
import json
import weakref

import pytest

from tests.scripts import run_code
from utils.garbage import paused_then_frozen


class Node:
    def __init__(self):
        self.other = self  # a reference cycle: only a collection frees it


@pytest.fixture
def collections():
    """The generations of the collections that run meanwhile."""
    seen = []

    def record(phase, info):
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    yield seen
    gc.callbacks.remove(record)


def test_nothing_is_collected_inside_and_what_was_made_is_frozen_after(collections):
    frozen = gc.get_freeze_count()
    with paused_then_frozen():
        made = [Node() for _ in range(50_000)]  # far past the threshold of an automatic collection
        assert collections == []
    assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(made)
    walked = {id(o) for o in gc.get_objects()}
    assert not any(id(node) in walked for node in made)  # frozen: outside the generations a collection walks


def test_a_cycle_made_after_is_freed_by_a_collection():
    with paused_then_frozen():
        pass
    new = Node()
    alive = weakref.ref(new)
    del new
    gc.collect()
    assert alive() is None


def test_a_paused_collector_stays_paused_and_an_exception_still_freezes():
    gc.disable()
    try:
        frozen = gc.get_freeze_count()
        with pytest.raises(ImportError), paused_then_frozen():
            made = Node()
            raise ImportError("a library failed to import")
        assert not gc.isenabled() and gc.get_freeze_count() > frozen and made.other is made
    finally:
        gc.enable()


def test_tensorflow_imported_by_the_scripts_way_is_frozen():
    """The test scripts' fork server imported it through utils.tensorflow_runtime, as every script does."""
    code = ("import gc, json, sys; print(json.dumps({'tensorflow': 'tensorflow' in sys.modules, "
            "'frozen': gc.get_freeze_count(), 'walked': len(gc.get_objects()), 'enabled': gc.isenabled()}))")
    result = run_code(code)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["tensorflow"] and state["enabled"]
    assert state["frozen"] > 300_000 and state["walked"] < state["frozen"] / 10, state
