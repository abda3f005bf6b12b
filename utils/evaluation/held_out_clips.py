"""Which clips a saved model may be scored on, and its logits on them.

The original evaluation re-split the data its own way, so its "test" clips overlapped the training
clips. Here the test clips come from the model's sidecar, and before any are scored the split is
rebuilt from the data (labels, video paths, recorded settings) and must give back exactly the
recorded indices: otherwise the frames are not the ones the model was trained on (re-extracted,
another dataset), and the same index would name another video. A model may also be scored on the
test part of another split, but never on a clip it was trained or validated on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from utils.data.frames_data import FramesData
from utils.data.splits import SplitSettings, make_split
from utils.errors import InputError
from utils.sidecar import read_sidecar, sidecar_path

INDEX_KEYS = ("train_indices", "val_indices", "test_indices")


@dataclass(frozen=True)
class TestClips:
    indices: np.ndarray  # sorted rows of frames.npy
    settings: dict  # the split settings these test clips come from
    source: str  # "recorded" (the model's own split) or "requested"


def recorded_settings(record: dict, where: Path) -> SplitSettings:
    split = dict(record.get("split") or {})
    if not all(key in split for key in INDEX_KEYS):
        raise InputError(f"{where}: records no split indices; it was not saved by this project's training")
    return SplitSettings.from_json({k: v for k, v in split.items() if k not in INDEX_KEYS})


def seen_clips(record: dict) -> np.ndarray:
    """Clips the model learnt from or was selected on (training and validation parts)."""
    split = record["split"]
    return np.union1d(np.asarray(split["train_indices"], np.int64), np.asarray(split["val_indices"], np.int64))


def check_model_matches_data(model_path: Path, record: dict, data: FramesData, allow_other_frames: bool = False) -> None:
    """InputError unless the model's recorded classes, clip shape and frames are the data's (every script
    that reads a saved model with data checks this, before any work). ``allow_other_frames`` accepts
    frames whose content differs from those the model was trained on (utils/data/digest.py)."""
    where = f"{model_path} ({sidecar_path(model_path).name})"
    if record.get("classes") != data.classes:
        raise InputError(f"{where}: the model's {len(record.get('classes') or [])} classes differ from the "
                         f"{data.num_classes} in {data.frames_path.parent / 'classes.txt'}")
    if list(record.get("input_shape") or []) != list(data.clip_shape):
        raise InputError(f"{where}: the model's input shape {record.get('input_shape')} is not that of the clips in "
                         f"{data.frames_path}, {list(data.clip_shape)}")
    recorded = (record.get("data") or {}).get("digest")
    if recorded and not allow_other_frames and recorded != data.digest:
        raise InputError(f"{where}: trained on other frames than {data.frames_path} (same shape, other content: "
                         "another extraction?); use the frames it was trained on, or --allow_other_frames")


def test_clips_for(model_path: Path, data: FramesData, requested: SplitSettings | None = None,
                   allow_other_frames: bool = False) -> TestClips:
    """The test clips to score ``model_path`` on; InputError if they cannot be trusted (module doc)."""
    where = sidecar_path(model_path)
    record = read_sidecar(model_path)
    check_model_matches_data(model_path, record, data, allow_other_frames)
    settings = recorded_settings(record, where)
    recorded = record["split"]
    rebuilt = make_split(data.labels, data.paths, settings, data.classes)
    for part, key in zip((rebuilt.train, rebuilt.val, rebuilt.test), INDEX_KEYS):
        if part.tolist() != list(recorded[key]):
            raise InputError(f"{where}: the split recorded for this model does not come out of "
                             f"{data.frames_path} (its {key.split('_')[0]} clips differ): not the frames it "
                             "was trained on")
    seen = seen_clips(record)
    # A distilled student has also learnt from its teacher, which has seen the teacher's training clips.
    teacher = (record.get("distillation") or {}).get("teacher")
    if teacher and sidecar_path(Path(teacher)).is_file():
        seen = np.union1d(seen, seen_clips(read_sidecar(Path(teacher))))
    if requested is None or requested == settings:
        test, chosen, source = np.asarray(recorded["test_indices"], np.int64), settings, "recorded"
    else:
        # the test part never depends on val_size, and a small training part may not hold a validation one
        test = make_split(data.labels, data.paths, replace(requested, val_size=0.0), data.classes).test
        chosen, source = requested, "requested"
    overlap = np.intersect1d(test, seen)
    if len(overlap):
        raise InputError(f"{model_path}: {len(overlap)} of the {len(test)} test clips asked for were used to train "
                         f"or select it (e.g. {data.paths[overlap[0]]}); its scores there would be inflated")
    return TestClips(np.sort(test), chosen.to_json(), source)
