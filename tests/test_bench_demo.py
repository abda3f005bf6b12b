"""bench/demo.py --against: the revision's worktree shares this tree's .venv without touching it, a folder at
its name that is not such a worktree is refused and kept, and the worktree is removed afterwards."""

import subprocess

import pytest

from bench import demo
from tests.scripts import ROOT


def worktrees() -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_the_revision_shares_the_install_and_leaves_no_worktree_behind(tmp_path):
    stamp = ROOT / ".venv" / ".installed"
    if not stamp.is_file():
        pytest.skip("no .venv installed by make setup")
    before = stamp.stat().st_mtime_ns
    folder = demo.checkout("HEAD", tmp_path / "source")
    try:
        assert (folder / ".venv").resolve() == (ROOT / ".venv").resolve()
        assert (folder / "requirements.txt").stat().st_mtime == stamp.stat().st_mtime  # make sees it installed
        assert stamp.stat().st_mtime_ns == before and str(folder) in worktrees()
        again = demo.checkout("HEAD", folder)  # an earlier run's worktree is replaced
        assert again == folder and (folder / "Makefile").is_file()
    finally:
        demo.remove_checkout(folder)
    assert not folder.exists() and str(folder) not in worktrees()


def test_a_folder_that_is_not_its_worktree_is_refused_and_kept(tmp_path):
    mine = tmp_path / "source"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not a worktree this benchmark made"):
        demo.checkout("HEAD", mine)
    assert (mine / "notes.txt").read_text() == "mine"
