"""The class-folder layout of an action-recognition video collection.

    input_path/
        ClassA/              every immediate sub-folder is a class; sorted names give labels 0, 1, ...
            v_ClassA_g01_c01.avi          UCF50 / UCF101 / HMDB51: videos directly in the class folder
            v_ClassA_01/v_ClassA_01_01.mpg   UCF11: videos nested one level deeper, found recursively
        ClassB/
            ...

Video files are recognised by extension, case-insensitively; every other file is ignored. Hidden
files and folders (names starting with '.') are skipped, so macOS/Git debris is not a class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = frozenset(
    {".avi", ".mpg", ".mpeg", ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".wmv", ".flv"}
)


@dataclass(frozen=True)
class VideoEntry:
    label: int
    class_name: str
    relative_path: str  # POSIX path relative to the input folder, e.g. "Class/v_Class_g01_c01.avi"


def is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def discover_videos(input_path: Path) -> tuple[list[str], list[VideoEntry]]:
    """Return (class names in label order, videos ordered by class then path).

    The order depends only on names, never on the file system's listing order, so the same
    folder always gives the same labels and the same row order in frames.npy.
    """
    classes = sorted(
        entry.name for entry in input_path.iterdir() if entry.is_dir() and not entry.name.startswith(".")
    )
    videos = []
    for label, class_name in enumerate(classes):
        class_dir = input_path / class_name
        found = sorted(
            path.relative_to(input_path).as_posix()
            for path in class_dir.rglob("*")
            if is_video_file(path) and not _is_hidden(path.relative_to(class_dir))
        )
        videos.extend(VideoEntry(label, class_name, rel) for rel in found)
    return classes, videos


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
