import csv
import os
import re
import shutil
import signal
import time

import cv2
import numpy as np
import pytest

from tests.scripts import assert_one_line_error, run_script, signal_group, start_script
from tests.video_factory import expected_clip, set_avi_frame_count, truncate, write_video

T, H, W = 8, 24, 32


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Three classes in mixed layouts and codecs, with one good file of each kind and bad ones."""
    root = tmp_path_factory.mktemp("videos")
    write_video(root / "Biking" / "v_biking_01" / "v_biking_01_01.mpg", 40, "PIM1")  # UCF11 nesting
    write_video(root / "Biking" / "v_biking_02" / "v_biking_02_01.AVI", 33, "XVID")
    write_video(root / "Biking" / "short.avi", 5, "MJPG")  # < T: dropped by default
    lying = write_video(root / "Diving" / "v_Diving_g01_c01.avi", 50, "XVID")
    set_avi_frame_count(lying, 90)
    write_video(root / "Diving" / "v_Diving_g02_c01.mp4", 27, "mp4v")
    (root / "Diving" / "notes.txt").write_text("not a video, ignored")
    (root / "Diving" / "fake.avi").write_text("a text file named .avi")
    cut = write_video(root / "Diving" / "v_Diving_g03_c01.avi", 60, "MJPG")
    truncate(cut, 0.6)
    write_video(root / "Jumping" / "v_Jumping_g01_c01.avi", 64, "DIVX")
    (root / "Jumping" / "empty.mp4").write_bytes(b"")
    (root / "Jumping" / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    (root / "Kicking").mkdir()  # a class folder with no videos
    return root


def extract(input_path, output_path, *extra):
    return run_script("video_to_frames.py", "--input_path", input_path, "--output_path", output_path,
                      "--sequence_length", T, "--frame_height", H, "--frame_width", W, "--no_progress",
                      *extra)


def read_outputs(folder):
    return {
        "frames": np.load(folder / "frames.npy", mmap_mode="r"),
        "labels": np.load(folder / "labels.npy"),
        "paths": np.load(folder / "video_file_paths.npy"),
        "classes": (folder / "classes.txt").read_text().splitlines(),
    }


@pytest.fixture(scope="module")
def extracted(collection, tmp_path_factory):
    out = tmp_path_factory.mktemp("frames")
    result = extract(collection, out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    return out


def test_outputs_hold_exact_clips_labels_and_relative_paths(collection, extracted):
    out = read_outputs(extracted)
    assert out["classes"] == ["Biking", "Diving", "Jumping"]
    assert list(out["paths"]) == [
        "Biking/v_biking_01/v_biking_01_01.mpg",
        "Biking/v_biking_02/v_biking_02_01.AVI",
        "Diving/v_Diving_g01_c01.avi",
        "Diving/v_Diving_g02_c01.mp4",
        "Diving/v_Diving_g03_c01.avi",
        "Jumping/v_Jumping_g01_c01.avi",
    ]
    assert out["labels"].dtype == np.int64
    assert out["labels"].tolist() == [0, 0, 1, 1, 1, 2]
    frames = out["frames"]
    assert isinstance(frames, np.memmap) and frames.dtype == np.uint8
    assert frames.shape == (6, T, H, W, 3)
    for row, relative in enumerate(out["paths"]):
        want, _ = expected_clip(collection / relative, T, H, W)
        np.testing.assert_array_equal(frames[row], want, err_msg=relative)


def test_reports_list_every_skipped_file_with_its_reason(extracted):
    summary = (extracted / "Format_Time_Summary.txt").read_text()
    assert "videos: 10 found, 6 kept, 4 skipped, 0 padded" in summary
    assert "Biking/short.avi: too short: 5 decodable frames < sequence length 8" in summary
    assert "Diving/fake.avi: cannot be opened" in summary
    assert "Jumping/empty.mp4: cannot be opened" in summary
    assert re.search(r"Jumping/noise.avi: (cannot be opened|no frame could be decoded)", summary)
    assert "classes left out of classes.txt (no usable video): Kicking" in summary
    assert "notes.txt" not in summary
    rows = list(csv.DictReader((extracted / "Format_Time.csv").open()))
    assert [(r["class"], r["videos_found"], r["videos_kept"], r["videos_skipped"]) for r in rows] == [
        ("Biking", "3", "2", "1"), ("Diving", "4", "3", "1"), ("Jumping", "3", "1", "2"), ("Kicking", "0", "0", "0")]
    assert all(float(r["seconds"]) > 0 and float(r["peak_memory_mib"]) > 0 for r in rows[:3])
    assert not list(extracted.glob("*.partial")) and not list(extracted.glob(".staging-*"))


def test_output_does_not_depend_on_the_number_of_workers(collection, extracted, tmp_path):
    result = extract(collection, tmp_path, "--workers", "1")
    assert result.returncode == 0, result.stderr
    for name in ("frames.npy", "labels.npy", "video_file_paths.npy", "classes.txt"):
        assert (tmp_path / name).read_bytes() == (extracted / name).read_bytes(), name


def test_pad_keeps_short_videos_by_repeating_the_last_frame(collection, tmp_path):
    result = extract(collection, tmp_path, "--short_videos", "pad")
    assert result.returncode == 0, result.stderr
    out = read_outputs(tmp_path)
    row = list(out["paths"]).index("Biking/short.avi")
    clip = out["frames"][row]
    for k in range(5, T):
        np.testing.assert_array_equal(clip[k], clip[4])
    assert "1 padded" in (tmp_path / "Format_Time_Summary.txt").read_text()


def test_class_without_a_usable_video_is_left_out_and_labels_stay_dense(tmp_path):
    videos = tmp_path / "videos"
    write_video(videos / "A" / "a.avi", 20)
    (videos / "B").mkdir(parents=True)
    (videos / "B" / "broken.avi").write_text("nope")
    write_video(videos / "C" / "c.avi", 20)
    result = extract(videos, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    out = read_outputs(tmp_path / "out")
    assert out["classes"] == ["A", "C"]
    assert out["labels"].tolist() == [0, 1]
    assert "left out of classes.txt (no usable video): B" in (tmp_path / "out" / "Format_Time_Summary.txt").read_text()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_video_is_listed_with_its_reason_and_the_others_kept(tmp_path):
    videos = tmp_path / "videos"
    write_video(videos / "A" / "a.avi", 20)
    write_video(videos / "B" / "b.avi", 20)
    locked = write_video(videos / "B" / "locked.avi", 20)
    locked.chmod(0)
    result = extract(videos, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert read_outputs(tmp_path / "out")["paths"].tolist() == ["A/a.avi", "B/b.avi"]
    assert "B/locked.avi: cannot be read (permission denied)" in (tmp_path / "out" / "Format_Time_Summary.txt").read_text()


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda root: None, "input folder does not exist"),
        (lambda root: root.mkdir(), "no class folders"),
        (lambda root: (root / "A").mkdir(parents=True) or (root / "A" / "x.txt").write_text("x"),
         "no video files"),
    ],
    ids=["missing", "no-classes", "no-videos"],
)
def test_unusable_input_folder_is_a_one_line_error(tmp_path, make, fragment):
    root = tmp_path / "in"
    make(root)
    result = extract(root, tmp_path / "out")
    assert_one_line_error(result, str(root), fragment)
    assert not (tmp_path / "out" / "frames.npy").exists()


def test_all_videos_bad_is_a_one_line_error_and_writes_nothing(tmp_path):
    (tmp_path / "in" / "A").mkdir(parents=True)
    (tmp_path / "in" / "A" / "x.avi").write_text("text")
    result = extract(tmp_path / "in", tmp_path / "out")
    assert_one_line_error(result, "none of the 1 videos gave a clip", "A/x.avi")
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name != ".lock"] == []


def test_output_that_cannot_fit_on_the_disk_is_refused_before_any_work(collection, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    np.save(out / "frames.npy", np.zeros((1, T, H, W, 3), np.uint8))  # an earlier result stays as it was
    before = (out / "frames.npy").read_bytes()
    # 10 videos x 1024 frames of 4096 x 4096 RGB pixels (the flags' largest values): about 480 GiB
    needed = 10 * 1024 * 4096 * 4096 * 3
    if shutil.disk_usage(out).free > needed:
        pytest.skip("this disk has room for the largest extraction the flags allow")
    result = run_script("video_to_frames.py", "--input_path", collection, "--output_path", out,
                        "--sequence_length", 1024, "--frame_height", 4096, "--frame_width", 4096, "--no_progress")
    assert_one_line_error(result, f"{out}/frames.npy: {out} has", "free, and this run needs about", "GiB")
    assert sorted(p.name for p in out.iterdir() if p.name != ".lock") == ["frames.npy"]
    assert (out / "frames.npy").read_bytes() == before


def test_bad_flag_is_a_one_line_error(tmp_path):
    result = extract(tmp_path, tmp_path, "--sequence_length", "0")
    assert_one_line_error(result, "--sequence_length")


SLOW_VIDEOS = 16


@pytest.fixture(scope="module")
def slow_collection(tmp_path_factory):
    """Enough decoding work (a few CPU-seconds) to interrupt a run part-way: copies of one
    300-frame noise video, which is cheap to copy and slow to decode."""
    root = tmp_path_factory.mktemp("slow")
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    source = root / "source.bin"
    writer = cv2.VideoWriter(str(source) + ".avi", cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    for i in range(300):
        writer.write(np.roll(noise, 3 * i, axis=0))
    writer.release()
    data = (root / "source.bin.avi").read_bytes()
    (root / "source.bin.avi").unlink()
    for v in range(SLOW_VIDEOS):
        (root / f"C{v % 2}").mkdir(exist_ok=True)
        (root / f"C{v % 2}" / f"v{v:02d}.avi").write_bytes(data)
    return root


def wait_for(pattern, process, timeout=60.0):
    """Until a file matching ``pattern`` (a glob under a folder) exists, e.g. the staged frames file."""
    folder, glob = pattern
    deadline = time.monotonic() + timeout
    while not list(folder.glob(glob)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.002)


@pytest.mark.parametrize("delay", [0.0, 0.4, 0.9])
def test_killed_run_never_leaves_a_complete_looking_frames_file(slow_collection, tmp_path, delay):
    out = tmp_path / "out"
    out.mkdir()
    previous = np.arange(2 * T * H * W * 3, dtype=np.uint8).reshape(2, T, H, W, 3)
    np.save(out / "frames.npy", previous)  # a complete result of an earlier run must survive
    process = start_script("video_to_frames.py", "--input_path", slow_collection, "--output_path", out,
                           "--sequence_length", T, "--frame_height", H, "--frame_width", W,
                           "--workers", "2", "--no_progress")
    wait_for((out, ".staging-*/frames.npy.partial"), process)
    time.sleep(delay)
    signal_group(process, signal.SIGKILL)
    process.wait()
    frames = np.load(out / "frames.npy", mmap_mode="r")
    if delay == 0.0:  # killed before any worker started: surely mid-run
        assert frames.shape == previous.shape
    if frames.shape == previous.shape:
        np.testing.assert_array_equal(frames, previous)
    else:  # the run finished before the kill: then every output must be whole
        assert frames.shape == (SLOW_VIDEOS, T, H, W, 3)
        assert len(np.load(out / "labels.npy")) == SLOW_VIDEOS
    result = extract(slow_collection, out, "--workers", "2")  # the same command again
    assert result.returncode == 0, result.stderr
    assert np.load(out / "frames.npy", mmap_mode="r").shape == (SLOW_VIDEOS, T, H, W, 3)
    assert not list(out.glob("*.partial")) and not list(out.glob(".staging-*"))


@pytest.mark.parametrize("workers, delay", [(1, 0.3), (2, 0.0), (2, 0.3)])
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(slow_collection, tmp_path, workers, delay):
    out = tmp_path / "out"
    process = start_script("video_to_frames.py", "--input_path", slow_collection, "--output_path", out,
                           "--sequence_length", T, "--frame_height", H, "--frame_width", W,
                           "--workers", workers, "--no_progress")
    wait_for((out, ".staging-*/frames.npy.partial"), process)
    time.sleep(delay)  # 0: while the worker processes are still starting
    signal_group(process, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Run the same command again" in stderr
    assert "Traceback" not in stderr
    assert not (out / "frames.npy").exists()
    assert not list(out.glob("*.partial")) and not list(out.glob(".staging-*"))
