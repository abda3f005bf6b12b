"""The class-folder layout of an action-recognition video collection.

    input_path/
        ClassA/              every immediate sub-folder is a class; sorted names give labels 0, 1, ...
            v_ClassA_g01_c01.avi          UCF50 / UCF101 / HMDB51: videos directly in the class folder
            v_ClassA_01/v_ClassA_01_01.mpg   UCF11: videos nested one level deeper, found recursively
        ClassB/
            ...

Video files are recognised by extension, case-insensitively; every other file is ignored. Hidden
files and folders (names starting with '.') are skipped, so macOS/Git debris is not a class.

Names end up in text files (classes.txt, the reports) and in a string array, so they must be valid
UTF-8: a class folder whose name is not, or is blank or holds a line break (it would give a broken or doubled
line in classes.txt), is refused; a video whose path is not is skipped and reported, never passed
to a decoder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from utils.errors import InputError

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


def discover_videos(input_path: Path, unusable: list[str] | None = None) -> tuple[list[str], list[VideoEntry]]:
    """Return (class names in label order, videos ordered by class then path).

    The order depends only on names, never on the file system's listing order, so the same
    folder always gives the same labels and the same row order in frames.npy. Video files whose
    path is not valid UTF-8 are left out; ``unusable`` (when given) receives each one's bytes
    repr, e.g. ``b'Class/v\\xe9.avi'``. A class folder name that is not valid UTF-8 or holds a
    line break raises InputError.
    """
    classes = sorted(
        entry.name for entry in input_path.iterdir() if entry.is_dir() and not entry.name.startswith(".")
    )
    for name in classes:
        check_class_name(input_path, name)
    videos = []
    for label, class_name in enumerate(classes):
        class_dir = input_path / class_name
        found = []
        for path in class_dir.rglob("*"):
            if not is_video_file(path) or _is_hidden(path.relative_to(class_dir)):
                continue
            relative = path.relative_to(input_path).as_posix()
            if is_utf8(relative):
                found.append(relative)
            elif unusable is not None:
                unusable.append(repr(os.fsencode(relative)))
        videos.extend(VideoEntry(label, class_name, rel) for rel in sorted(found))
    if unusable is not None:
        unusable.sort()
    return classes, videos


def is_utf8(name: str) -> bool:
    """False for a name the file system gave as undecodable bytes (Python's surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_class_name(input_path: Path, name: str) -> None:
    if not is_utf8(name):
        raise InputError(f"{input_path}: class folder {os.fsencode(name)!r} has a name that is not valid UTF-8; "
                         "rename it")
    if name.splitlines() != [name]:
        raise InputError(f"{input_path}: class folder {name!r} has a line break in its name, which classes.txt "
                         "cannot hold; rename it")
    if not name.strip():
        raise InputError(f"{input_path}: class folder {name!r} has a blank name, which classes.txt cannot hold; "
                         "rename it")


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
