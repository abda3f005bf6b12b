"""utils/garbage.py: collections inside the scope free new cycles and skip what was alive at its start."""

import gc
import weakref

from utils.garbage import collections_of_new_objects


class Node:
    def __init__(self):
        self.other = self  # a reference cycle: only a collection frees it


def test_a_cycle_made_inside_the_scope_is_freed_and_older_objects_are_not_walked():
    older = [Node() for _ in range(1000)]
    assert gc.get_freeze_count() == 0
    with collections_of_new_objects():
        assert gc.get_freeze_count() >= len(older)  # alive at the start: frozen, so collections skip them
        new = Node()
        alive = weakref.ref(new)
        del new
        gc.collect()
        assert alive() is None
    assert gc.get_freeze_count() == 0  # back to ordinary collections


def test_nested_scopes_unfreeze_only_when_the_outermost_ends():
    with collections_of_new_objects():
        outer = gc.get_freeze_count()
        made_inside = [Node() for _ in range(1000)]
        with collections_of_new_objects():
            assert gc.get_freeze_count() >= outer + len(made_inside)  # the outer scope's objects frozen too
        assert gc.get_freeze_count() >= outer  # still frozen: the outer scope is open
    assert gc.get_freeze_count() == 0


def test_the_scope_ends_unfrozen_after_an_exception():
    try:
        with collections_of_new_objects():
            raise RuntimeError("a model failed to load")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
