"""The official train/test lists of UCF101 and HMDB51, read and matched to an extracted dataset.

Official list formats (``split_dir``, number K = ``split_id``)
--------------------------------------------------------------
UCF101 (``ucfTrainTestlist/``): ``trainlist0K.txt`` and ``testlist0K.txt``, e.g. for K = 1::

    trainlist01.txt   ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1     <- class index (1-based) optional, unused
    testlist01.txt    ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi

  An entry matches the data path (relative to the dataset folder, as in video_file_paths.npy)
  compared case-insensitively, so ``.AVI`` vs ``.avi`` or ``HandStandPushups`` vs
  ``HandstandPushups`` still match.

HMDB51 (``testTrainMulti_7030_splits/``): one file per class, ``<class>_test_splitK.txt``, e.g.
``brush_hair_test_split1.txt``, with one line per video::

    April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1      <- 1 = train, 2 = test, 0 = not used

  An entry matches the data video ``<class>/<file name>`` (case-insensitively), where <class> is
  the list file's name without ``_test_splitK.txt`` and the data's <class> is the first folder of
  its path.

Blank lines and surrounding whitespace are ignored in both formats. Data videos that no list puts
in train or test (HMDB tag 0, or not listed) are in no part; list entries with no data video (for
example videos dropped as too short during extraction) are ignored. Both counts are reported in
``Split.note``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils.errors import InputError


def official_split(labels: np.ndarray, paths: Sequence[str], split_dir: str, k: int):
    """(train indices, test indices, a note on unmatched entries) from the lists of split ``k``."""
    folder = Path(split_dir)
    if not folder.is_dir():
        raise InputError(f"--split_dir {folder}: not a folder (expected the official split lists)")
    ucf_train, ucf_test = folder / f"trainlist{k:02d}.txt", folder / f"testlist{k:02d}.txt"
    hmdb_files = sorted(folder.glob(f"*_test_split{k}.txt"))
    if ucf_train.exists() or ucf_test.exists():
        for path in (ucf_train, ucf_test):
            if not path.is_file():
                raise InputError(f"{path}: missing (UCF101 split {k} needs trainlist{k:02d}.txt and "
                                 f"testlist{k:02d}.txt)")
        spelled = _read_ucf101_list(ucf_train, has_index=True)
        tags = dict.fromkeys(spelled, 1)
        for key, entry in _read_ucf101_list(ucf_test, has_index=False).items():
            if tags.get(key) == 1:
                raise InputError(f"{ucf_test}: {entry!r} is also in {ucf_train.name}")
            tags[key] = 2
            spelled[key] = entry
        data_keys = [p.replace("\\", "/").lower() for p in paths]
    elif hmdb_files:
        tags, spelled = {}, {}
        for path in hmdb_files:
            class_name = path.name[: -len(f"_test_split{k}.txt")]
            for key, (entry, tag) in _read_hmdb51_list(path, class_name).items():
                tags[key], spelled[key] = tag, entry
        data_keys = [_hmdb_key(p) for p in paths]
    else:
        raise InputError(f"--split_dir {folder}: no split {k} lists (expected trainlist{k:02d}.txt and "
                         f"testlist{k:02d}.txt for UCF101, or <class>_test_split{k}.txt for HMDB51)")

    listed = {key for key, tag in tags.items() if tag in (1, 2)}
    matched = [tags.get(key, 0) for key in data_keys]
    found = {key for key in data_keys if key in listed}
    if not found:
        example = spelled[min(listed)] if listed else "nothing"
        raise InputError(f"--split_dir {folder}: none of its {len(listed)} train/test entries is a video of "
                         f"the dataset (e.g. list entry {example!r}, data path {paths[0]!r})")
    matched = np.array(matched)
    train, test = np.flatnonzero(matched == 1), np.flatnonzero(matched == 2)
    note = (f"official split {k} from {folder}: {len(listed) - len(found)} listed videos not in the data, "
            f"{np.count_nonzero(matched == 0)} data videos not in train or test")
    return train.astype(np.int64), test.astype(np.int64), note


def _read_ucf101_list(path: Path, has_index: bool) -> dict[str, str]:
    """Matching key (lower-case path) -> the entry as written."""
    entries = {}
    for number, line in enumerate(_read_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 2 or (len(parts) == 2 and not (has_index and parts[1].isdigit())):
            expected = "Class/video.avi [class index]" if has_index else "Class/video.avi"
            raise InputError(f"{path}:{number}: expected '{expected}', got {line.strip()!r}")
        entry = parts[0].replace("\\", "/")
        entries[entry.lower()] = entry
    return entries


def _read_hmdb51_list(path: Path, class_name: str) -> dict[str, tuple[str, int]]:
    """Matching key (lower-case "<class>/<file name>") -> (that key as written, tag)."""
    tags = {}
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise InputError(f"{path}:{number}: expected '<video file name> <0|1|2>', got {line.strip()!r}")
        entry = f"{class_name}/{parts[0].strip()}"
        tags[entry.lower()] = (entry, int(parts[1]))
    return tags


def _hmdb_key(path: str) -> str:
    parts = [part for part in path.replace("\\", "/").split("/") if part]
    return f"{parts[0]}/{parts[-1]}".lower()


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
