"""Frame-exact clip sampling from one video file.

The paper samples T frames uniformly: with n frames in the video, skip = max(n // T, 1) and the
clip is frames 0, skip, 2*skip, ..., (T-1)*skip. Containers often misreport n (MPEG-1 program
streams only estimate it from the duration; truncated files claim frames they no longer hold), and
seeking with ``CAP_PROP_POS_FRAMES`` lands on the wrong frame in many MPEG-4 part 2 files. So we
never seek and never trust the reported count: one sequential pass decodes every frame
(``grab``), colour-converts only the frames that may be kept (``retrieve``), and counts the frames
that really decode. The reported count is only a guess of which frames to retrieve; when the true
count lands in a different skip bucket, a second pass with the now-known count fixes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # corrupt files are reported by us, not FFmpeg
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402  (must follow the log-level settings above)
import numpy as np  # noqa: E402

SHORT_VIDEO_POLICIES = ("drop", "pad")


class VideoError(Exception):
    """A video that cannot give a clip; the message is the reason shown to the user."""


@dataclass(frozen=True)
class ClipInfo:
    """What decoding one video found, for the extraction report."""

    decoded_frames: int  # n: frames that really decode
    reported_frames: int  # what the container claims (<= 0 when it does not say)
    decode_passes: int  # 1, or 2 when the reported count put us in the wrong skip bucket
    padded: bool  # True when n < T and the last frame was repeated


def select_frame_indices(num_frames: int, sequence_length: int) -> list[int]:
    """Indices of the T frames the paper keeps from a video of ``num_frames`` decodable frames.

    skip = max(n // T, 1); frames 0, skip, ..., (T-1)*skip. For n < T the indices past the last
    frame are clamped to it, which is what ``--short_videos pad`` stores.
    """
    if num_frames <= 0 or sequence_length <= 0:
        raise ValueError("num_frames and sequence_length must be positive")
    skip = max(num_frames // sequence_length, 1)
    return [min(k * skip, num_frames - 1) for k in range(sequence_length)]


def _frames_to_retrieve(reported: int, sequence_length: int) -> set[int]:
    """Frames worth colour-converting on the first pass, given the container's claimed count.

    Only n // T matters, so a wrong count costs nothing while it stays in the same skip bucket.
    Near a bucket edge we also keep the neighbouring bucket's frames: small miscounts (MPEG-1's
    duration estimate is often off by one or two frames) then need no second pass.
    """
    if reported <= 0:
        return set()
    t = sequence_length
    margin = max(2, reported // 32)
    candidates = {reported, max(reported - margin, 1), reported + margin}
    wanted: set[int] = set()
    for n in candidates:
        wanted.update(select_frame_indices(n, t))
    return wanted


def resize_to_rgb(frame_bgr: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to W×H (bilinear) and convert OpenCV's BGR to RGB.

    Bilinear is what the original code used (``cv2.resize``'s default) and what mmaction2 and the
    TF Model Garden use; INTER_AREA would alias less but costs about as much as decoding a frame.
    Resizing before the colour conversion keeps that step cheap.
    """
    small = cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


def _open(path: str) -> cv2.VideoCapture:
    # One decoder thread per video: extraction already runs one process per core, and frame
    # threading in FFmpeg only adds hand-off cost at these resolutions.
    if not os.access(path, os.R_OK):  # OpenCV would only say "cannot be opened"
        raise VideoError("cannot be read (permission denied)" if os.path.exists(path) else "file disappeared")
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    if not capture.isOpened():
        capture.release()
        raise VideoError("cannot be opened as a video (not a video file, or unsupported codec)")
    return capture


def _decode_pass(
    path: str, wanted_given_reported: Callable[[int], set[int]], height: int, width: int
) -> tuple[int, int, dict[int, np.ndarray]]:
    """Decode every frame once; return (decoded count, reported count, the wanted frames)."""
    capture = _open(path)
    try:
        reported = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = wanted_given_reported(reported)
        kept: dict[int, np.ndarray] = {}
        index = 0
        while capture.grab():
            if index in wanted:
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    raise VideoError(f"frame {index} decodes but cannot be converted to an image")
                kept[index] = resize_to_rgb(frame, height, width)
            index += 1
        return index, reported, kept
    finally:
        capture.release()


def read_clip(
    path: str,
    sequence_length: int,
    height: int,
    width: int,
    short_videos: str = "drop",
) -> tuple[np.ndarray, ClipInfo]:
    """Return the T×H×W×3 uint8 RGB clip of ``path`` and what decoding found.

    Raises VideoError (with the reason as message) for a file that opens but has no decodable
    frame, cannot be opened, or is shorter than T frames under the ``drop`` policy.
    """
    if short_videos not in SHORT_VIDEO_POLICIES:
        raise ValueError(f"short_videos must be one of {SHORT_VIDEO_POLICIES}")
    decoded, reported, kept = _decode_pass(
        path, lambda reported: _frames_to_retrieve(reported, sequence_length), height, width
    )
    passes = 1
    if decoded == 0:
        raise VideoError("no frame could be decoded (empty, truncated or corrupt file)")
    if decoded < sequence_length and short_videos == "drop":
        raise VideoError(f"too short: {decoded} decodable frames < sequence length {sequence_length}")

    indices = select_frame_indices(decoded, sequence_length)
    if not set(indices) <= kept.keys():
        passes = 2
        again, _, kept = _decode_pass(path, lambda _: set(indices), height, width)
        if again != decoded:
            raise VideoError(f"decodes to a different frame count each time ({decoded}, then {again})")
    clip = np.stack([kept[i] for i in indices])
    info = ClipInfo(decoded, reported, passes, padded=decoded < sequence_length)
    return clip, info
