import cv2
import numpy as np
import pytest

from tests.video_factory import (
    CODECS,
    decode_all,
    expected_clip,
    reported_frame_count,
    set_avi_frame_count,
    truncate,
    write_video,
)
from utils.data.frame_sampler import VideoError, read_clip, resize_to_rgb, select_frame_indices


@pytest.mark.parametrize(
    "frames, length, expected",
    [
        (160, 16, [10 * k for k in range(16)]),
        (47, 16, [2 * k for k in range(16)]),  # skip = 47 // 16 = 2; the tail is never used
        (16, 16, list(range(16))),
        (20, 16, list(range(16))),  # skip = max(1, 1)
        (5, 8, [0, 1, 2, 3, 4, 4, 4, 4]),  # shorter than T: clamp to the last frame (pad)
        (1, 3, [0, 0, 0]),
    ],
)
def test_select_frame_indices_follows_the_paper(frames, length, expected):
    assert select_frame_indices(frames, length) == expected


@pytest.mark.parametrize("fourcc", sorted(CODECS))
def test_clip_equals_the_frames_of_a_sequential_decode(tmp_path, fourcc):
    path = write_video(tmp_path / f"v{CODECS[fourcc]}", 53, fourcc)
    clip, info = read_clip(str(path), 16, 32, 32)
    want, indices = expected_clip(path, 16)
    assert indices[1] == 3  # 53 // 16: the sampling really skips frames
    assert clip.dtype == np.uint8 and clip.shape == (16, 32, 32, 3)
    assert info.decoded_frames == len(decode_all(path))
    np.testing.assert_array_equal(clip, want)


def test_mpeg1_count_estimate_is_wrong_but_the_clip_is_exact(tmp_path):
    # MPEG-1 program streams (UCF11's .mpg) carry no frame count; OpenCV estimates one.
    path = write_video(tmp_path / "v.mpg", 50, "PIM1", height=96, width=128)
    assert reported_frame_count(path) != 50
    clip, info = read_clip(str(path), 16, 32, 32)
    assert info.decoded_frames == 50 and info.reported_frames != 50
    np.testing.assert_array_equal(clip, expected_clip(path, 16)[0])


@pytest.mark.parametrize("claimed", [80, 200, 20])
def test_container_that_lies_about_its_frame_count(tmp_path, claimed):
    path = write_video(tmp_path / "v.avi", 50, "XVID")
    set_avi_frame_count(path, claimed)
    assert reported_frame_count(path) == claimed
    clip, info = read_clip(str(path), 16, 32, 32)
    assert (info.reported_frames, info.decoded_frames) == (claimed, 50)
    assert info.decode_passes == 2  # the claimed count put us in another skip bucket
    np.testing.assert_array_equal(clip, expected_clip(path, 16)[0])


def test_small_miscount_near_a_bucket_edge_needs_no_second_pass(tmp_path):
    path = write_video(tmp_path / "v.avi", 48, "MJPG")  # 48 // 16 = 3
    set_avi_frame_count(path, 47)  # 47 // 16 = 2: another bucket, but within the hedging margin
    clip, info = read_clip(str(path), 16, 32, 32)
    assert info.decode_passes == 1
    np.testing.assert_array_equal(clip, expected_clip(path, 16)[0])


def test_truncated_file_uses_the_frames_that_decode(tmp_path):
    path = write_video(tmp_path / "v.avi", 120, "MJPG")
    truncate(path, 0.5)
    decodable = len(decode_all(path))
    assert 16 <= decodable < reported_frame_count(path)
    clip, info = read_clip(str(path), 16, 32, 32)
    assert info.decoded_frames == decodable
    np.testing.assert_array_equal(clip, expected_clip(path, 16)[0])


def test_short_video_is_dropped_or_padded(tmp_path):
    path = write_video(tmp_path / "v.avi", 5, "MJPG")
    with pytest.raises(VideoError, match="too short: 5 decodable frames < sequence length 8"):
        read_clip(str(path), 8, 32, 32, short_videos="drop")
    clip, info = read_clip(str(path), 8, 32, 32, short_videos="pad")
    frames = decode_all(path)
    assert info.padded
    for k in range(8):
        np.testing.assert_array_equal(clip[k], resize_to_rgb(frames[min(k, 4)], 32, 32))


def test_frames_are_stored_rgb(tmp_path):
    path = tmp_path / "blue.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    for _ in range(10):
        writer.write(np.full((32, 32, 3), (255, 0, 0), dtype=np.uint8))  # pure blue in OpenCV's BGR
    writer.release()
    clip, _ = read_clip(str(path), 4, 16, 16)
    red, green, blue = clip[..., 0].mean(), clip[..., 1].mean(), clip[..., 2].mean()
    assert blue > 200 and red < 40 and green < 40


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "cannot be opened"),
        (b"this is a text file, not a video\n" * 20, "cannot be opened"),
        (np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes(), "cannot be opened|no frame"),
    ],
    ids=["empty", "text", "random-bytes"],
)
def test_unreadable_files_raise_video_error_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.avi"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=reason):
        read_clip(str(path), 16, 32, 32)
