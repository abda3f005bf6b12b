"""Bad input to the scripts that make data or train from it (extraction, the synthetic set, training):
the cases of tests/bad_input_matrix.py, one line, exit status 2, earlier outputs untouched."""

from __future__ import annotations

import pytest

from tests.bad_input_matrix import CASES, MODEL_READERS, check_case, setup  # noqa: F401  (setup: a fixture)


@pytest.mark.parametrize("case", [case for case, (script, _, _) in CASES.items() if script not in MODEL_READERS])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(setup, case):  # noqa: F811
    check_case(setup, case)
