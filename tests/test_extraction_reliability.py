"""video_to_frames.py under hostile conditions: killed mid-swap, run twice at once, odd file names,
crashing decoders, a full disk; and open_frames refusing folders that would be read wrongly."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.scripts import ROOT, assert_one_line_error, run_script, signal_group, snapshot, start_script
from tests.video_factory import write_video
from utils.data.frames_data import MANIFEST_FILE, open_frames
from utils.errors import InputError

T, H, W = 4, 16, 16
DATA_FILES = ("frames.npy", "labels.npy", "video_file_paths.npy", "classes.txt")
FLAGS = ("--sequence_length", T, "--frame_height", H, "--frame_width", W, "--no_progress")


def extract(input_path, output_path, *extra, script="video_to_frames.py"):
    return run_script(script, "--input_path", input_path, "--output_path", output_path, *FLAGS, *extra, timeout=120)


def data_digest(folder):
    """What a reader reads: the four data files' bytes."""
    return tuple(hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in DATA_FILES)


@pytest.fixture(scope="module")
def old_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("old_videos")
    write_video(root / "A" / "a1.avi", 12)
    write_video(root / "A" / "a2.avi", 14)
    write_video(root / "B" / "b1.avi", 12)
    return root


@pytest.fixture(scope="module")
def new_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("new_videos")
    for name, frames in [("A/a1.avi", 16), ("B/b1.avi", 13), ("C/c1.avi", 15), ("C/c2.avi", 12)]:
        write_video(root / name, frames)
    return root


@pytest.fixture(scope="module")
def references(old_videos, new_videos, tmp_path_factory):
    """Complete outputs of the old and the new collection, to compare interrupted folders with."""
    old, new = tmp_path_factory.mktemp("old_ref"), tmp_path_factory.mktemp("new_ref")
    assert extract(old_videos, old, "--workers", "1").returncode == 0
    assert extract(new_videos, new, "--workers", "1").returncode == 0
    return {"old": data_digest(old), "new": data_digest(new), "old_folder": old}


def old_set_at(out, references):
    """A complete extraction of the old videos at ``out``: a copy of the module's reference one, the same files,
    without the second that extracting them again takes per test."""
    shutil.copytree(references["old_folder"], out)


def which_set(folder, references):
    """'old' or 'new' when ``folder`` opens and is wholly one of them, 'refused' when open_frames
    refuses it in one line; anything else (a mix) fails the test."""
    try:
        data = open_frames(folder)
    except InputError as error:
        assert "\n" not in str(error) and "incomplete" in str(error), error
        return "refused"
    digest = data_digest(folder)
    for name in ("old", "new"):
        if digest == references[name]:
            return name
    raise AssertionError(f"{folder} opens ({len(data.frames)} clips) but is neither the old nor the new set")


# --- 1. the output set is replaced as a whole -------------------------------------------------

KILL_AT_REPLACE = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, os.getcwd())
    kill_at, out = int(sys.argv[1]), os.path.realpath(sys.argv[2])
    real_replace, calls = os.replace, [0]

    def replace(src, dst, *args, **kwargs):  # SIGKILL just before the kill_at-th rename into the output
        if os.path.dirname(os.path.realpath(dst)) == out:
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            calls[0] += 1
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace
    sys.argv = ["video_to_frames.py", *sys.argv[3:]]
    import video_to_frames
    from utils.cli import entry_point
    entry_point(video_to_frames.main, "video_to_frames.py")
""")


def run_killed_at_replace(kill_at, videos, out, *extra):
    return subprocess.run([sys.executable, "-c", KILL_AT_REPLACE, str(kill_at), str(out), "--input_path", str(videos),
                           "--output_path", str(out), *map(str, FLAGS), "--workers", "1", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


SWAP_RENAMES = 8  # the "replacing" marker, six files, the complete manifest


@pytest.mark.parametrize("kill_at", range(SWAP_RENAMES + 1))
def test_sigkill_during_the_swap_leaves_the_old_set_or_a_refused_folder_never_a_mix(new_videos, references, tmp_path,
                                                                                         kill_at):
    out = tmp_path / "out"
    old_set_at(out, references)
    result = run_killed_at_replace(kill_at, new_videos, out)
    if kill_at == SWAP_RENAMES:  # past the last rename: the run completes
        assert result.returncode == 0, result.stderr
        assert which_set(out, references) == "new"
    else:
        assert result.returncode == -signal.SIGKILL, f"not killed at rename {kill_at}: {result.stderr}"
        assert which_set(out, references) == ("old" if kill_at == 0 else "refused")
    rerun = extract(new_videos, out, "--workers", "1")
    assert rerun.returncode == 0, rerun.stderr
    assert which_set(out, references) == "new"
    assert not list(out.glob(".staging-*"))


def test_the_manifest_is_written_last_and_lists_the_set(new_videos, references, tmp_path):
    assert extract(new_videos, tmp_path, "--workers", "1").returncode == 0
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert manifest["state"] == "complete" and manifest["clips"] == 4 and manifest["clip_shape"] == [T, H, W, 3]
    assert manifest["files"]["frames.npy"] == (tmp_path / "frames.npy").stat().st_size
    assert set(manifest["files"]) == {*DATA_FILES, "Format_Time.csv", "Format_Time_Summary.txt"}


@pytest.mark.parametrize("kill_at", [0, 3])
def test_sigkill_during_the_swap_over_a_folder_without_manifest(new_videos, references, tmp_path, kill_at):
    out = write_frames_folder(tmp_path / "out", shape=(T, H, W))  # as older versions wrote it
    before = data_digest(out)
    run_killed_at_replace(kill_at, new_videos, out)
    if kill_at == 0:
        open_frames(out)
        assert data_digest(out) == before
    else:
        assert which_set(out, references) == "refused"


@pytest.fixture(scope="module")
def slow_videos(tmp_path_factory):
    """Enough decoding (a second or two) to kill a run at various points."""
    root = tmp_path_factory.mktemp("slow")
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    source = root / "source.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 120))
    for i in range(200):
        writer.write(np.roll(noise, 3 * i, axis=0))
    writer.release()
    data = source.read_bytes()
    source.unlink()
    for v in range(8):
        (root / f"C{v % 2}").mkdir(exist_ok=True)
        (root / f"C{v % 2}" / f"v{v}.avi").write_bytes(data)
    return root


def wait_for_staging(out, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not list(out.glob(".staging-*/frames.npy.partial")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.002)


@pytest.mark.parametrize("delay", [0.0, 0.5, 1.2, 2.5])
def test_sigkill_at_any_time_leaves_a_complete_set_or_a_refused_folder(references, slow_videos, tmp_path, delay):
    out = tmp_path / "out"
    old_set_at(out, references)
    old = data_digest(out)
    process = start_script("video_to_frames.py", "--input_path", slow_videos, "--output_path", out, *FLAGS,
                           "--workers", "2")
    wait_for_staging(out, process)
    time.sleep(delay)
    signal_group(process, signal.SIGKILL)
    process.communicate()
    try:
        data = open_frames(out)
    except InputError as error:
        assert "incomplete" in str(error)
    else:
        assert len(data.frames) in (3, 8)
        if len(data.frames) == 3:
            assert data_digest(out) == old
        else:
            assert len(data.labels) == len(data.paths) == 8 and data.classes == ["C0", "C1"]


# --- 2. one run at a time per output folder ----------------------------------------------------


def test_a_second_run_on_the_same_output_is_refused_and_the_first_completes(slow_videos, tmp_path):
    out = tmp_path / "out"
    first = start_script("video_to_frames.py", "--input_path", slow_videos, "--output_path", out, *FLAGS,
                         "--workers", "2")
    wait_for_staging(out, first)
    second = extract(slow_videos, out, "--workers", "1")
    assert_one_line_error(second, str(out), "being written by another run")
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert len(open_frames(out).frames) == 8


# --- 3. names that are not UTF-8 or do not fit classes.txt --------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_video_with_a_non_utf8_name_is_skipped_with_a_warning(tmp_path, workers):
    videos = tmp_path / "videos"
    write_video(videos / "A" / "a.avi", 12)
    write_video(videos / "B" / "b.avi", 12)
    write_video(videos / "B" / "tmp.avi", 12)
    os.rename(os.fsencode(videos / "B" / "tmp.avi"), os.fsencode(videos / "B") + b"/v\xe9.avi")
    result = extract(videos, tmp_path / "out", "--workers", workers)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "b'B/v\\xe9.avi'" in warnings[0] and "not valid UTF-8" in warnings[0]
    data = open_frames(tmp_path / "out")
    assert data.paths.tolist() == ["A/a.avi", "B/b.avi"]
    assert "b'B/v\\xe9.avi'" in (tmp_path / "out" / "Format_Time_Summary.txt").read_text()


@pytest.mark.parametrize("name, fragment", [(b"B\xe9", "not valid UTF-8"), (b"B\nC", "line break"),
                                            (b"B\rC", "line break"), (b" ", "blank name")])
def test_class_folder_name_that_classes_txt_cannot_hold_is_refused(tmp_path, name, fragment):
    videos = tmp_path / "videos"
    write_video(videos / "A" / "a.avi", 12)
    write_video(videos / "tmp" / "b.avi", 12)
    os.rename(os.fsencode(videos / "tmp"), os.fsencode(videos) + b"/" + name)
    result = extract(videos, tmp_path / "out")
    assert_one_line_error(result, str(videos), fragment)
    assert not (tmp_path / "out").exists()


# --- 4. a worker that dies never hangs the run -------------------------------------------------

CRASHING_EXTRACTION = textwrap.dedent("""
    # video_to_frames.py whose decoder dies on videos named crash_*: os._exit, or a real segfault.
    # Top-level code runs in each spawned worker too (as __mp_main__), so the patch reaches them.
    import ctypes, os, sys
    sys.path.insert(0, {root!r})
    from utils.data import frame_extraction

    real_read_clip = frame_extraction.read_clip

    def read_clip(path, *args, **kwargs):
        if "crash_exit" in path:
            os._exit(3)
        if "crash_segv" in path:
            ctypes.string_at(0)
        return real_read_clip(path, *args, **kwargs)

    frame_extraction.read_clip = read_clip

    if __name__ == "__main__":
        sys.argv[0] = "video_to_frames.py"
        import video_to_frames
        from utils.cli import entry_point
        entry_point(video_to_frames.main, "video_to_frames.py")
""")


@pytest.mark.parametrize("workers", ["1", "3"])
def test_a_crashing_decoder_costs_only_its_video(tmp_path, workers):
    script = tmp_path / "crashing_extraction.py"
    script.write_text(CRASHING_EXTRACTION.format(root=str(ROOT)))
    videos = tmp_path / "videos"
    for name in ["A/a1.avi", "A/crash_exit.avi", "A/a2.avi", "B/b1.avi", "B/crash_segv.avi", "B/b2.avi"]:
        write_video(videos / name, 12)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(script), "--input_path", str(videos), "--output_path", str(out),
                             *map(str, FLAGS), "--workers", workers], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2 and "A/crash_exit.avi" in warnings[0] and "B/crash_segv.avi" in warnings[1]
    assert open_frames(out).paths.tolist() == ["A/a1.avi", "A/a2.avi", "B/b1.avi", "B/b2.avi"]
    summary = (out / "Format_Time_Summary.txt").read_text()
    assert "A/crash_exit.avi: its decoding process crashed" in summary
    assert "B/crash_segv.avi: its decoding process crashed" in summary


# --- 5. a full disk -----------------------------------------------------------------------------

DISK_FULL_EXTRACTION = textwrap.dedent("""
    # video_to_frames.py on a disk that fills up at {where}.
    import errno, os, sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from utils.data import frame_extraction

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), *[str(a) for a in args[:1] if {where!r} == "save"])

    if {where!r} == "worker":  # in the decoding processes
        frame_extraction.write_clip = full

    if __name__ == "__main__":
        if {where!r} == "save":
            np.save = full
        if {where!r} == "swap":
            real_replace = os.replace
            def replace(src, dst):
                if str(dst).endswith("classes.txt"):
                    full()
                return real_replace(src, dst)
            os.replace = replace
        sys.argv[0] = "video_to_frames.py"
        import video_to_frames
        from utils.cli import entry_point
        entry_point(video_to_frames.main, "video_to_frames.py")
""")


@pytest.mark.parametrize("where", ["worker", "save", "swap"])
def test_a_full_disk_is_one_line_and_removes_the_partial_extraction(new_videos, references, tmp_path, where):
    out = tmp_path / "out"
    old_set_at(out, references)
    before = snapshot(out)
    script = tmp_path / "full_disk.py"
    script.write_text(DISK_FULL_EXTRACTION.format(root=str(ROOT), where=where))
    result = subprocess.run([sys.executable, str(script), "--input_path", str(new_videos), "--output_path", str(out),
                             *map(str, FLAGS), "--workers", "2"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert_one_line_error(result, str(out), "disk is full")
    assert not list(out.glob(".staging-*"))
    if where == "swap":  # the swap had begun: the folder is refused, and the message says so
        assert "refuse" in result.stderr
        assert which_set(out, references) == "refused"
    else:
        assert "earlier files are unchanged" in result.stderr
        assert snapshot(out) == before
        if where == "save":
            assert "labels.npy" in result.stderr


# --- 6. open_frames refuses folders it would read wrongly ---------------------------------------


def change(folder, name, value):
    if isinstance(value, str):
        (folder / name).write_text(value)
    else:
        np.save(folder / name, value)


@pytest.mark.parametrize("damage, fragment", [
    (lambda f: change(f, "frames.npy", np.asfortranarray(np.load(f / "frames.npy"))), "Fortran"),
    (lambda f: change(f, "labels.npy", np.asfortranarray(np.load(f / "labels.npy")[:, None].repeat(2, 1))),
     "Fortran"),
    (lambda f: change(f, "labels.npy", np.load(f / "labels.npy")[:, None]), "1-D integer"),
    (lambda f: change(f, "labels.npy", np.load(f / "labels.npy").astype(np.float32)), "1-D integer"),
    (lambda f: change(f, "video_file_paths.npy", np.arange(36)), "1-D array of strings"),
    (lambda f: change(f, "video_file_paths.npy", np.load(f / "video_file_paths.npy")[:, None]),
     "1-D array of strings"),
    (lambda f: change(f, "classes.txt", "Bright\nDark\nBright\n"), "listed twice"),
    (lambda f: change(f, "classes.txt", "Bright\n\nDark\nRed\n"), "line 2 is blank"),
    (lambda f: change(f, "classes.txt", "Bright\n  \nDark\nRed\n"), "line 2 is blank"),
    (lambda f: (f / "classes.txt").write_bytes(b"Bright\nD\xe9rk\nRed\n"), "not UTF-8"),
], ids=["fortran-frames", "fortran-labels", "2d-labels", "float-labels", "int-paths", "2d-paths",
        "duplicate-class", "blank-line", "whitespace-line", "latin1-classes"])
def test_open_frames_refuses_what_it_would_read_wrongly(tmp_path, damage, fragment):
    folder = write_frames_folder(tmp_path / "frames", shape=(T, H, W))
    open_frames(folder)
    damage(folder)
    with pytest.raises(InputError) as raised:
        open_frames(folder)
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_open_frames_accepts_trailing_blank_lines(tmp_path):
    folder = write_frames_folder(tmp_path / "frames", shape=(T, H, W))
    change(folder, "classes.txt", "Bright\nDark\nRed\n\n")
    assert open_frames(folder).classes == ["Bright", "Dark", "Red"]


@pytest.mark.parametrize("damage, fragment", [
    (lambda f: change(f, MANIFEST_FILE, '{"state": "replacing"}'), "replacing its files"),
    (lambda f: change(f, MANIFEST_FILE, "{not json"), "unreadable"),
    (lambda f: change(f, "labels.npy", np.zeros(5, np.int64)), "labels.npy has"),
    (lambda f: (f / "classes.txt").unlink(), "classes.txt is missing"),
], ids=["replacing", "unreadable", "other-labels", "missing-classes"])
def test_open_frames_refuses_an_inconsistent_extraction(references, tmp_path, damage, fragment):
    out = tmp_path / "out"
    old_set_at(out, references)
    open_frames(out)
    damage(out)
    with pytest.raises(InputError) as raised:
        open_frames(out)
    message = str(raised.value)
    assert str(out) in message and "incomplete" in message and "video_to_frames.py" in message
    assert fragment in message and "\n" not in message
