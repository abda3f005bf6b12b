"""Small test videos whose frames say which frame they are, and ways to damage them."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from utils.data.frame_sampler import resize_to_rgb, select_frame_indices

CODECS = {  # fourcc -> container extension, as UCF11 (MPEG-1), UCF101/HMDB51 (XVID/DivX) and others
    "MJPG": ".avi",
    "XVID": ".avi",
    "DIVX": ".avi",
    "mp4v": ".mp4",
    "PIM1": ".mpg",
}


def frame_pattern(index: int, height: int = 48, width: int = 64, colour_bgr=None) -> np.ndarray:
    """A BGR frame that differs strongly from its neighbours: a bar whose position is the index."""
    frame = np.full((height, width, 3), 40, dtype=np.uint8)
    x = (index * 7) % (width - 8)
    y = (index * 3) % (height - 8)
    frame[:, x:x + 8] = colour_bgr if colour_bgr is not None else (255, 255, 255)
    frame[y:y + 8, :] = (0, 200, 100)
    frame[:4, :4] = index % 256  # an extra cue for the exact index
    return frame


def write_video(path: Path, frames: int, fourcc: str = "MJPG", height: int = 48, width: int = 64,
                fps: float = 25.0, colour_bgr=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for i in range(frames):
        writer.write(frame_pattern(i, height, width, colour_bgr))
    writer.release()
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame of ``path`` by plain sequential reading: the reference for exactness."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def expected_clip(path: Path, sequence_length: int, height: int = 32, width: int = 32):
    """(clip, indices) by the paper's rule applied to a plain sequential decode of the whole file."""
    frames = decode_all(path)
    indices = select_frame_indices(len(frames), sequence_length)
    return np.stack([resize_to_rgb(frames[i], height, width) for i in indices]), indices


def reported_frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count


def set_avi_frame_count(path: Path, count: int) -> None:
    """Make an AVI lie: overwrite the frame count in its main (avih) and stream (strh) headers."""
    data = bytearray(path.read_bytes())
    avih = data.find(b"avih")
    strh = data.find(b"strh")
    assert avih >= 0 and strh >= 0, "not an AVI file"
    data[avih + 8 + 16: avih + 8 + 20] = struct.pack("<I", count)  # dwTotalFrames
    data[strh + 8 + 32: strh + 8 + 36] = struct.pack("<I", count)  # dwLength
    path.write_bytes(bytes(data))


def truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
