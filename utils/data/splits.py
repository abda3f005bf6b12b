"""Train / validation / test split of an extracted dataset, as a pure function of its inputs.

Why this module exists: the paper splits all clips of a dataset at random (80/20, unseeded), and
its evaluation script re-splits differently, so its test clips overlap its training clips. Here a
split is computed from (labels, video paths, settings) only, with seeds and no global random state:
every stage that makes the same call gets the same indices, and the settings are saved with a run
(``SplitSettings.to_json``) so the split can be rebuilt exactly later.

Protocols
---------
``random``    The paper's split: stratified by class over clips (scikit-learn's
              ``train_test_split(..., stratify=labels, random_state=seed)``). UCF "groups" (clips cut
              from one source video) end up on both sides, which inflates test accuracy; use it to
              compare with the paper.
``group``     Every clip of a group lies in one part. Groups are counted per class (group 01 of
              class A has nothing to do with group 01 of class B, as in UCF101). Per class, about
              ``test_size`` of its groups (at least 1, and at least 1 left for training) go to test.
              Needs group numbers in the paths (see ``group_of``); HMDB51 names have none.
``official``  The dataset authors' lists (UCF101 or HMDB51 format, below); ``test_size`` is not used.

In every protocol the validation part (for checkpoint selection) is carved out of the training part
only, after the test part is fixed: changing ``val_size`` never changes the test part. It is
group-disjoint from training when groups parse (``group``, and ``official`` on UCF-style names),
otherwise a stratified random ``val_size`` share of the training clips.

The official lists' formats are documented in utils/data/official_splits.py.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from utils.data.official_splits import official_split
from utils.errors import InputError

PROTOCOLS = ("random", "group", "official")

# Seeds of the independent random stages, so that e.g. the validation draw never repeats the test draw.
_TEST_STAGE = 0
_VAL_STAGE = 1

_UCF101_FILE = re.compile(r"^v_.+_g(\d+)_c\d+$", re.IGNORECASE)  # v_ApplyEyeMakeup_g08_c01
_UCF11_FOLDER = re.compile(r"^v_.+_(\d+)$", re.IGNORECASE)  # v_shooting_01
_UCF11_FILE = re.compile(r"^v_.+_(\d+)_\d+$", re.IGNORECASE)  # v_shooting_01_01 (folder flattened)


@dataclass(frozen=True)
class SplitSettings:
    """Everything that decides a split besides the data; invalid values raise InputError here."""

    protocol: str = "random"
    test_size: float = 0.2
    val_size: float = 0.1  # fraction of the training part held out for validation / checkpoint selection
    seed: int = 0
    split_dir: str | None = None  # folder of official lists, for protocol "official"
    split_id: int = 1  # which official split (UCF101 and HMDB51 have 1, 2, 3)

    # Where the values came from, for error messages: "" for the command line (errors name flags),
    # or e.g. "models/x.json: split." for a sidecar (errors name the file and field). Not compared.
    origin: str = field(default="", compare=False, repr=False)

    def _name(self, key: str) -> str:
        return f"{self.origin}{key}" if self.origin else "--" + {"protocol": "split"}.get(key, key)

    def __post_init__(self):
        if isinstance(self.split_dir, Path):  # keep to_json() JSON-serialisable
            object.__setattr__(self, "split_dir", str(self.split_dir))
        if self.protocol not in PROTOCOLS:
            raise InputError(f"{self._name('protocol')} must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if not is_finite_number(self.test_size) or not 0 < self.test_size < 1:
            raise InputError(f"{self._name('test_size')} must be between 0 and 1 (exclusive), got {self.test_size!r}")
        if not is_finite_number(self.val_size) or not 0 <= self.val_size < 1:
            raise InputError(f"{self._name('val_size')} must be at least 0 and below 1, got {self.val_size!r}")
        if not is_integer(self.seed) or not 0 <= self.seed < 2**32:
            raise InputError(f"{self._name('seed')} must be an integer from 0 to 2**32 - 1, got {self.seed!r}")
        if not is_integer(self.split_id) or self.split_id < 1:
            raise InputError(f"{self._name('split_id')} must be a positive integer, got {self.split_id!r}")
        if self.split_dir is not None and not isinstance(self.split_dir, str):
            raise InputError(f"{self._name('split_dir')} must be a folder path, got {self.split_dir!r}")
        if self.protocol == "official" and not self.split_dir:
            raise InputError(f"{self._name('protocol')} official needs {self._name('split_dir')}, the folder of the "
                             "official split lists")

    def to_json(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "origin"}

    @classmethod
    def from_args(cls, parsed) -> SplitSettings:
        """From the split flags of utils/cli.add_split_arguments."""
        return cls(protocol=parsed.split, test_size=parsed.test_size, val_size=parsed.val_size, seed=parsed.seed,
                   split_dir=str(parsed.split_dir) if parsed.split_dir else None, split_id=parsed.split_id)

    def to_argv(self) -> list[str]:
        """The split flags that give these settings to a training script."""
        argv = ["--split", self.protocol, "--test_size", str(self.test_size), "--val_size", str(self.val_size),
                "--seed", str(self.seed), "--split_id", str(self.split_id)]
        return argv + (["--split_dir", self.split_dir] if self.split_dir else [])

    @classmethod
    def from_json(cls, d: dict, origin: str = "") -> SplitSettings:
        """Inverse of to_json; ``origin`` names the file the values come from (errors then name it and
        the field). Unknown keys are refused: a split that cannot be rebuilt exactly would silently
        change which clips are test clips."""
        if not isinstance(d, dict):
            raise InputError(f"{origin or 'split settings: '}expected a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)} - {"origin"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"{origin}unknown split setting(s) {', '.join(unknown)}; expected "
                             f"{', '.join(sorted(known))}")
        return cls(**d, origin=origin)


@dataclass(frozen=True)
class Split:
    """Indices into frames.npy (and labels.npy, video_file_paths.npy): sorted, int64, disjoint."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    note: str = ""  # what was left out and why (official lists), for the run log


def group_of(path: str) -> str | None:
    """The group key "Class/gGG" of a video path, or None when the name carries no group.

    UCF50 / UCF101 / the synthetic dataset: ``Class/v_Name_gGG_cCC.ext`` gives group GG.
    UCF11: ``class/v_name_GG/v_name_GG_CC.ext`` gives group GG (the folder's number; also read from
    the file name when the folder level is missing). Class is the path's first folder, because
    groups are numbered per class. The number is normalised (g8 == g08).
    """
    parts = [part for part in str(path).replace("\\", "/").split("/") if part]
    if not parts:
        return None
    stem = parts[-1].rsplit(".", 1)[0] if "." in parts[-1] else parts[-1]
    number = None
    match = _UCF101_FILE.match(stem)
    if match:
        number = match.group(1)
    else:
        for folder in reversed(parts[1:-1]):
            match = _UCF11_FOLDER.match(folder)
            if match:
                number = match.group(1)
                break
        else:
            match = _UCF11_FILE.match(stem)
            if match:
                number = match.group(1)
    if number is None:
        return None
    key = f"g{int(number):02d}"
    return f"{parts[0]}/{key}" if len(parts) > 1 else key


def make_split(
    labels: np.ndarray,
    paths: np.ndarray | list[str],
    settings: SplitSettings,
    classes: list[str] | None = None,
) -> Split:
    """Split clip indices into train / val / test following ``settings`` (see the module docstring).

    Deterministic: equal inputs give equal arrays. Every class with clips gets at least one train
    clip and one test clip, or InputError names the class.
    """
    labels = np.asarray(labels)
    paths = [str(p) for p in (paths.tolist() if isinstance(paths, np.ndarray) else paths)]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be a 1-D array of integer class indices, got shape {labels.shape} "
                         f"dtype {labels.dtype}")
    if len(labels) != len(paths):
        raise InputError(f"labels ({len(labels)}) and video paths ({len(paths)}) differ in length; "
                         "labels.npy and video_file_paths.npy come from different extractions")
    if len(labels) == 0:
        raise InputError("the dataset has no clips to split")
    if labels.min() < 0 or (classes is not None and labels.max() >= len(classes)):
        raise InputError(f"labels range from {labels.min()} to {labels.max()}, but classes.txt has "
                         f"{0 if classes is None else len(classes)} names")
    labels = labels.astype(np.int64)
    name_of = _class_namer(labels, paths, classes)

    note = ""
    if settings.protocol == "random":
        train, test = _random_test_split(labels, settings, name_of)
        train, val = _random_val_split(train, labels, settings)
    elif settings.protocol == "group":
        groups = _require_groups(paths, range(len(paths)))
        train, test = _group_split(np.arange(len(labels)), labels, groups, settings.test_size,
                                   settings.seed, _TEST_STAGE)
        train, val = _group_split(train, labels, groups, settings.val_size, settings.seed, _VAL_STAGE)
    else:
        train, test, note = official_split(labels, paths, settings.split_dir, settings.split_id)
        train_groups = [group_of(paths[i]) for i in train]
        if all(g is not None for g in train_groups):
            groups = [group_of(p) for p in paths]
            train, val = _group_split(train, labels, groups, settings.val_size, settings.seed, _VAL_STAGE)
        else:
            train, val = _random_val_split(train, labels, settings)

    split = Split(_indices(train), _indices(val), _indices(test), note)
    _check_every_class(split, labels, paths, settings.protocol, name_of)
    return split


def describe(split: Split, labels: np.ndarray) -> str:
    """One line for logs, e.g. 'split: 7629 train / 908 val / 3783 test clips, 101 classes'."""
    labels = np.asarray(labels)
    used = np.concatenate([split.train, split.val, split.test])
    text = (f"split: {len(split.train)} train / {len(split.val)} val / {len(split.test)} test clips, "
            f"{len(np.unique(labels[used]))} classes")
    if len(used) < len(labels):
        text += f"; {len(labels) - len(used)} clips in no part"
    if split.note:
        text += f" ({split.note})"
    return text


# ---------------------------------------------------------------------------------------------
# random


def _random_test_split(labels: np.ndarray, settings: SplitSettings, name_of: Callable[[int], str]):
    counts = np.bincount(labels)
    singles = np.flatnonzero(counts == 1)
    if len(singles):
        raise InputError(f"class {name_of(singles[0])!r} has only 1 clip, so it cannot be in both training "
                         "and test; add clips or remove the class")
    try:
        return train_test_split(np.arange(len(labels)), test_size=settings.test_size,
                                stratify=labels, random_state=settings.seed)
    except ValueError as error:  # e.g. fewer test clips than classes
        raise InputError(f"cannot split {len(labels)} clips of {np.count_nonzero(counts)} classes with "
                         f"--test_size {settings.test_size}: {error}") from None


def _random_val_split(train: np.ndarray, labels: np.ndarray, settings: SplitSettings):
    if settings.val_size == 0:
        return train, np.empty(0, np.int64)
    try:
        return train_test_split(train, test_size=settings.val_size, stratify=labels[train],
                                random_state=_derived_seed(settings.seed, _VAL_STAGE))
    except ValueError as error:
        raise InputError(f"cannot hold out a stratified validation part of {len(train)} training clips "
                         f"with --val_size {settings.val_size}: {error}; use --val_size 0 or more data"
                         ) from None


def _derived_seed(seed: int, stage: int) -> int:
    return int(np.random.SeedSequence([seed, stage]).generate_state(1)[0])


# ---------------------------------------------------------------------------------------------
# group


def _require_groups(paths: Sequence[str], indices) -> list[str | None]:
    groups = [group_of(p) for p in paths]
    for i in indices:
        if groups[i] is None:
            raise InputError(f"no group number in video path {paths[i]!r} (expected v_Name_gGG_cCC or a "
                             "v_name_GG folder); use --split random or --split official")
    return groups


def _group_split(indices: np.ndarray, labels: np.ndarray, groups: Sequence[str | None], size: float,
                 seed: int, stage: int):
    """Per class, move about ``size`` of the groups among ``indices`` to the held-out part.

    At least one group is held out and at least one kept when the class has two or more; a class
    with one group keeps it. Returns (kept, held out).
    """
    indices = np.asarray(indices, np.int64)
    if size == 0:
        return indices, np.empty(0, np.int64)
    kept, held = [], []
    for label in np.unique(labels[indices]):
        members = indices[labels[indices] == label]
        by_group = defaultdict(list)
        for i in members:
            by_group[groups[i]].append(i)
        names = sorted(by_group, key=_natural_key)
        n_held = min(max(math.floor(size * len(names) + 0.5), 1), len(names) - 1)
        rng = np.random.default_rng([seed, stage, int(label)])
        order = rng.permutation(len(names))
        for rank, position in enumerate(order):
            (held if rank < n_held else kept).extend(by_group[names[position]])
    return np.array(kept, np.int64), np.array(held, np.int64)


def _natural_key(text: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


# ---------------------------------------------------------------------------------------------
# shared


def _check_every_class(split: Split, labels: np.ndarray, paths: Sequence[str], protocol: str,
                       name_of: Callable[[int], str]) -> None:
    train_classes, test_classes = set(labels[split.train].tolist()), set(labels[split.test].tolist())
    for label in np.unique(labels).tolist():
        for part, present in (("test", test_classes), ("train", train_classes)):
            if label in present:
                continue
            members = np.flatnonzero(labels == label)
            if protocol == "group":
                n_groups = len({group_of(paths[i]) for i in members})
                why = f"only {n_groups} group" + ("" if n_groups == 1 else "s")
                fix = "use --split random or more data"
            elif protocol == "official":
                why = f"the lists put none of its {len(members)} clips in {part}"
                fix = "check --split_dir against the data, or use --split group or random"
            else:
                why = f"only {len(members)} clips"
                fix = "use a different --test_size / --val_size or more data"
            raise InputError(f"class {name_of(label)!r} has no {part} clip under --split {protocol} "
                             f"({why}); {fix}")


def _class_namer(labels: np.ndarray, paths: Sequence[str], classes: list[str] | None):
    def name_of(label: int) -> str:
        if classes is not None:
            return classes[int(label)]
        first = np.flatnonzero(labels == label)
        if len(first):
            folder = paths[first[0]].replace("\\", "/").split("/")[0]
            if folder:
                return folder
        return f"label {int(label)}"

    return name_of


def _indices(values) -> np.ndarray:
    return np.sort(np.asarray(values, np.int64))


def is_finite_number(value) -> bool:
    """A finite int or float (NumPy's too), not a bool: for values read from flags or JSON."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(value)


def is_integer(value) -> bool:
    """An int (NumPy's too), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
