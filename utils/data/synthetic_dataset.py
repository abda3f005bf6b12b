"""The built-in synthetic action dataset: stick figures acting in rooms, written as real video files.

Layout, as UCF101: ``output/Class/v_Class_gGG_cCC.avi`` (XVID in AVI, like UCF101's files).

**Only the action tells the class.** A group gGG is one actor in one room (body proportions,
clothing colours, wall, floor, furniture, lighting), as a UCF101 group is clips cut from one
source video; group gGG is the same actor and room in every class, so scenes say nothing about
the class. Within a clip the position, size, timing, speed, noise and brightness are drawn
independently of the class, and every part of the body the action does not move is held at a
value drawn from the distribution the moving part passes through (utils/data/synthetic_actions.py): one
still frame of any class looks like a frame of any other. Classes differ only in how the figure
moves, and the default six come in pairs that differ only in time (direction of travel, a move
and its reverse), so a model has to use the frames' order.

**Difficulty** is set per dataset (``SyntheticSpec``): class-independent distractor motion
(objects drifting across the room), camera shake, occluders in front of the actor, sensor noise
and clip length.

Everything is drawn from ``numpy.random.default_rng`` seeded by (seed, group) for a scene and
(seed, class, group, clip) for a clip, so a given seed always gives the same videos, whatever the
order or number of workers.
"""

from __future__ import annotations

import json
import math
import re
import multiprocessing
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from utils import atomic_files
from utils.data.stick_figure import Body, draw
from utils.data.synthetic_actions import ACTIONS, MAX_TRAVEL, PRETEXT_ACTIONS, TARGET_ACTIONS, action_controls
from utils.folder_set import FolderSet

__all__ = ["ACTIONS", "PRETEXT_ACTIONS", "TARGET_ACTIONS", "Scene", "SyntheticSpec", "generate_dataset",
           "render_clip", "scene_for", "video_relative_path"]


@dataclass(frozen=True)
class Scene:
    """What stays fixed across one group's clips, in every class: the actor and the room."""

    body: Body
    background: np.ndarray  # H×W×3 uint8 BGR
    ground_y: float  # pixel row the feet stand on


def make_scene(rng: np.random.Generator, width: int, height: int) -> Scene:
    """A room: two-tone gradient wall, a floor, a few pieces of furniture, one actor."""
    top, bottom = rng.integers(30, 226, size=(2, 3))  # wall colour at the top and the bottom
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    background = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1)
    ground_y = height * rng.uniform(0.86, 0.95)
    background[int(ground_y):] = rng.integers(30, 226, size=3)
    background = np.ascontiguousarray(background.astype(np.uint8))
    for _ in range(rng.integers(2, 5)):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, x1 = sorted(rng.uniform(0, width, size=2))
        y0 = rng.uniform(0.2, 0.7) * height
        if rng.random() < 0.5:
            cv2.rectangle(background, (int(x0), int(y0)), (int(x1), int(ground_y)), colour, -1)
        else:
            cv2.circle(background, (int(x0), int(y0)), int(rng.uniform(0.03, 0.1) * width), colour, -1)
    # The actor stands out from the wall behind it: bright clothes in a dark room, dark in a light one.
    wall = background[: int(ground_y)].mean()
    return Scene(body=Body.random(rng, bright=bool(wall < 128)), background=background, ground_y=ground_y)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def scene_for(seed: int, group: int, width: int, height: int) -> Scene:
    """Group ``group``'s actor and room; the same in every class."""
    return make_scene(_rng(seed, 1_000_003, group), width, height)


@dataclass(frozen=True)
class Difficulty:
    """Class-independent nuisances; all in pixels of the written video unless said otherwise."""

    distractors: int = 0  # objects drifting across the room in every clip
    camera_shake: float = 0.5  # standard deviation of the whole frame's jitter (rounded to whole pixels)
    occlusion: float = 0.1  # probability that a clip has a pillar in front of the actor
    noise: float = 4.0  # largest standard deviation of the sensor noise (grey levels)

    def check(self) -> None:
        if self.distractors < 0:
            raise ValueError(f"--distractors must be 0 or more, got {self.distractors}")
        for name in ("camera_shake", "noise"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ValueError(f"--{name} must be a finite number >= 0, got {getattr(self, name)}")
        if not 0 <= self.occlusion <= 1:
            raise ValueError(f"--occlusion must be between 0 and 1, got {self.occlusion}")


def _distractor_tracks(rng: np.random.Generator, count: int, frames: int, width: int, height: int):
    """(colour, radius, square?, x per frame, y per frame) of each drifting object."""
    tracks = []
    for _ in range(count):
        start = rng.uniform((0, 0.1 * height), (width, 0.8 * height))
        velocity = rng.uniform(-1.5, 1.5, size=2) * width / 160
        steps = np.arange(frames)[:, None]
        path = start + velocity * steps
        tracks.append((tuple(int(c) for c in rng.integers(0, 256, size=3)),
                       max(2, int(rng.uniform(0.03, 0.07) * width)), rng.random() < 0.5, path))
    return tracks


def _draw_distractor(image: np.ndarray, track, i: int) -> None:
    colour, radius, square, path = track
    x, y = (int(round(v)) for v in path[i])
    if square:
        cv2.rectangle(image, (x - radius, y - radius), (x + radius, y + radius), colour, -1)
    else:
        cv2.circle(image, (x, y), radius, colour, -1, cv2.LINE_AA)


def _shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by (dx, dy) whole pixels, the edges repeated into the gap (a camera jolt)."""
    height, width = image.shape[:2]
    dx, dy = int(np.clip(dx, 1 - width, width - 1)), int(np.clip(dy, 1 - height, height - 1))
    kept = image[max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
    return cv2.copyMakeBorder(kept, max(dy, 0), max(-dy, 0), max(dx, 0), max(-dx, 0), cv2.BORDER_REPLICATE)


def render_clip(action: str, scene: Scene, rng: np.random.Generator, frames: int,
                difficulty: Difficulty = Difficulty(), drawn: Collection[int] | None = None) -> np.ndarray:
    """frames×H×W×3 uint8 BGR video of one clip of ``action`` in ``scene``.

    ``drawn``: the only frames to draw (None: all); the others stay black. The random draws are the same
    either way, so a drawn frame is the one the whole clip has: a reader of a few frames need not pay for all.
    """
    height, width = scene.background.shape[:2]
    controls = action_controls(action, frames, rng)
    figure_height = height * rng.uniform(0.6, 0.85)
    margin = (MAX_TRAVEL + 0.3) * figure_height  # room for the walk and the arms
    centre_x = rng.uniform(margin, width - margin) if width > 2 * margin else width / 2
    feet_y = scene.ground_y + rng.uniform(-0.02, 0.02) * height
    noise_sigma = difficulty.noise * rng.uniform(0.3, 1.0)
    noise_amplitude = int(round(noise_sigma * np.sqrt(3)))  # uniform on [-a, a] has standard deviation a/√3
    grain_rows, grain_columns = (height + 1) // 2, (width + 1) // 2
    gain = rng.uniform(0.8, 1.2)
    distractors = _distractor_tracks(rng, difficulty.distractors, frames, width, height)
    in_front = rng.random(len(distractors)) < 0.5
    occluder = None
    if rng.random() < difficulty.occlusion:
        bar = rng.uniform(0.06, 0.14) * width
        x0 = centre_x + rng.uniform(-0.4, 0.4) * figure_height - bar / 2
        occluder = ((int(x0), 0), (int(x0 + bar), height), tuple(int(c) for c in rng.integers(0, 256, size=3)))
    shakes = np.rint(rng.normal(0.0, difficulty.camera_shake, size=(frames, 2))).astype(int)  # whole pixels
    video = np.empty((frames, height, width, 3), dtype=np.uint8) if drawn is None else \
        np.zeros((frames, height, width, 3), dtype=np.uint8)
    for i in range(frames):
        if drawn is not None and i not in drawn:
            if noise_amplitude:  # the draw a drawn frame makes, so that later frames get the same noise
                rng.integers(-noise_amplitude, noise_amplitude + 1, (grain_rows, grain_columns, 3), dtype=np.int16)
            continue
        image = scene.background.copy()
        for track, front in zip(distractors, in_front):
            if not front:
                _draw_distractor(image, track, i)
        x = centre_x + controls.travel[i] * figure_height
        draw(image, scene.body, controls.pose(i), (x, feet_y), figure_height, lift=controls.lift[i])
        for track, front in zip(distractors, in_front):
            if front:
                _draw_distractor(image, track, i)
        if occluder is not None:
            cv2.rectangle(image, occluder[0], occluder[1], occluder[2], -1)
        if shakes[i].any():
            image = _shifted(image, *shakes[i])
        lit = cv2.convertScaleAbs(image, alpha=gain)  # brightness, saturating at 255
        if noise_amplitude:  # uniform integer noise in 2×2 grains (cheap to draw), added with saturation
            grains = rng.integers(-noise_amplitude, noise_amplitude + 1, (grain_rows, grain_columns, 3), dtype=np.int16)
            lit = cv2.add(lit, cv2.resize(grains, (width, height), interpolation=cv2.INTER_NEAREST), dtype=cv2.CV_8U)
        video[i] = lit
    return video


def resolve_actions(names: Sequence[str]) -> tuple[str, ...]:
    """Action names as given, with ``target`` and ``pretext`` standing for their whole sets."""
    resolved: list[str] = []
    for name in names:
        group = {"target": TARGET_ACTIONS, "pretext": PRETEXT_ACTIONS}.get(name, (name,))
        for action in group:
            if action not in ACTIONS:
                raise ValueError(f"--actions {name}: unknown action; known: target, pretext, {', '.join(ACTIONS)}")
            if action in resolved:
                raise ValueError(f"--actions: {action} is given twice")
            resolved.append(action)
    return tuple(resolved)


@dataclass(frozen=True)
class SyntheticSpec:
    """How many and what videos to write; the defaults make the demo's dataset (750 videos)."""

    actions: tuple[str, ...] = TARGET_ACTIONS
    groups: int = 25
    clips_per_group: int = 5
    width: int = 160
    height: int = 120
    fps: float = 25.0
    min_seconds: float = 1.6
    max_seconds: float = 3.2
    seed: int = 0
    difficulty: Difficulty = field(default_factory=Difficulty)
    fourcc: str = "XVID"

    def __post_init__(self):
        if len(self.actions) < 1:
            raise ValueError("at least one action is needed")
        resolve_actions(self.actions)
        if not 0 < self.min_seconds <= self.max_seconds:
            raise ValueError(f"--min_seconds {self.min_seconds} must be > 0 and <= --max_seconds "
                             f"{self.max_seconds}")
        self.difficulty.check()

    @property
    def classes(self) -> int:
        return len(self.actions)

    def video_jobs(self) -> list[tuple[int, int, int]]:
        """(class index, group, clip) for every video, groups and clips numbered from 1."""
        return [
            (c, g, k)
            for c in range(self.classes)
            for g in range(1, self.groups + 1)
            for k in range(1, self.clips_per_group + 1)
        ]


def video_relative_path(action: str, group: int, clip: int) -> str:
    return f"{action}/v_{action}_g{group:02d}_c{clip:02d}.avi"


def write_video(path: Path, video: np.ndarray, fps: float, fourcc: str) -> None:
    """Encode BGR frames to ``path`` (via a temporary name, so a file that exists is whole)."""
    height, width = video.shape[1:3]
    with atomic_files.atomic_path(path) as temporary:
        # OpenCV picks the container from the extension, so the temporary name keeps it
        staging = temporary.with_name(temporary.name + path.suffix)
        writer = cv2.VideoWriter(str(staging), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {fourcc} video to {staging}")
        for frame in video:
            writer.write(frame)
        writer.release()
        staging.replace(temporary)


def clip_video(spec: SyntheticSpec, class_index: int, group: int, clip: int,
               drawn: Callable[[int], Collection[int]] | None = None) -> np.ndarray:
    """The BGR frames of one video of ``spec``, as written to disk (before encoding); ``drawn(frame count)``
    names the only frames to draw (render_clip), e.g. those a frame sampler keeps."""
    action = spec.actions[class_index]
    scene = scene_for(spec.seed, group, spec.width, spec.height)
    rng = _rng(spec.seed, ACTIONS.index(action), group, clip, 1)
    frames = max(int(round(rng.uniform(spec.min_seconds, spec.max_seconds) * spec.fps)), 1)
    return render_clip(action, scene, rng, frames, spec.difficulty, None if drawn is None else set(drawn(frames)))


def contact_sheet(spec: SyntheticSpec, path: Path, columns: int = 8, size: int | None = None) -> Path:
    """A picture (PNG, JPEG, ... by ``path``'s extension) with one clip of every class of ``spec`` (rows) at ``columns`` moments (the frames the
    paper's sampler keeps, every other one), at the video's size or downscaled to ``size`` pixels as
    extraction would store it."""
    from utils.data.frame_sampler import select_frame_indices

    def shown(count: int) -> list[int]:
        return list(select_frame_indices(count, 16)[:: max(1, 16 // columns)][:columns])

    rows = []
    for class_index in range(spec.classes):
        video = clip_video(spec, class_index, 1, 1, shown)  # one group: the same actor and room in every class
        kept = shown(len(video))
        frames = [video[i] for i in kept]
        if size:
            frames = [cv2.resize(cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR),
                                 (spec.width, spec.height), interpolation=cv2.INTER_NEAREST) for f in frames]
        strip = np.concatenate([cv2.copyMakeBorder(f, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
                                for f in frames], axis=1)
        label = np.full((strip.shape[0], 150, 3), 255, np.uint8)
        cv2.putText(label, spec.actions[class_index], (6, strip.shape[0] // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label, strip], axis=1))
    path = Path(path)
    with atomic_files.atomic_path(path) as temporary:
        staging = temporary.with_name(temporary.name + path.suffix)  # OpenCV picks the format by the extension
        quality = [cv2.IMWRITE_JPEG_QUALITY, 80] if path.suffix.lower() in (".jpg", ".jpeg") else []
        if not cv2.imwrite(str(staging), np.concatenate(rows, axis=0), quality):
            raise OSError(f"cannot write {path}")
        with open(staging, "ab") as handle:  # after the image's end: viewers ignore it, a rerun recognises it
            handle.write(PREVIEW_MARK)
        staging.replace(temporary)
    return path


PREVIEW_MARK = b"\nhar-kd synthetic preview\n"


def is_preview(path: Path) -> bool:
    """A picture contact_sheet wrote (so a rerun may replace it; a user's own file is never replaced)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, Path(path).stat().st_size - len(PREVIEW_MARK)))
            return handle.read() == PREVIEW_MARK
    except OSError:
        return False


def _write_one(args: tuple[SyntheticSpec, Path, tuple[int, int, int]]) -> str:
    spec, output, (class_index, group, clip) = args
    relative = video_relative_path(spec.actions[class_index], group, clip)
    write_video(output / relative, clip_video(spec, class_index, group, clip), spec.fps, spec.fourcc)
    return relative


# An earlier version wrote the same layout without a manifest: class folders of videos named as below.
EARLIER_VIDEO = re.compile("|".join(rf"{action}(/v_{action}_g\d\d_c\d\d\.avi)?" for action in ACTIONS))
VIDEO_SET = FolderSet(manifest="synthetic_videos.json", written_by="make_synthetic_dataset.py", noun="video set",
                      tag="videos", earlier_entry=lambda entry: EARLIER_VIDEO.fullmatch(entry) is not None)
MAX_VIDEO_BYTES = 2 * 2**30  # one video's frames, held in memory while it is encoded


def spec_record(spec: SyntheticSpec) -> dict:
    """What a video set was written with, in its manifest: the same record means the same videos."""
    return {"spec": {**{k: v for k, v in asdict(spec).items() if k != "difficulty"},
                     "actions": list(spec.actions), "difficulty": asdict(spec.difficulty)}}


def check_sizes(spec: SyntheticSpec) -> None:
    """InputError before any work when one video's frames would not fit the memory it is made in."""
    from utils.errors import InputError

    frames = math.ceil(spec.max_seconds * spec.fps)
    needed = frames * spec.height * spec.width * 3
    if needed > MAX_VIDEO_BYTES:
        raise InputError(f"--max_seconds {spec.max_seconds:g} at --fps {spec.fps:g} and {spec.width}x{spec.height} "
                         f"makes videos of {frames} frames, {needed / 2**30:.1f} GiB each in memory (at most "
                         f"{MAX_VIDEO_BYTES / 2**30:.0f} GiB); make them shorter, slower or smaller")


def write_video_set(spec: SyntheticSpec, output: Path, workers: int = 1,
                    on_video: Callable[[str], None] | None = None) -> list[str] | None:
    """Write the videos of ``spec`` as one set in ``output`` (utils/folder_set.py): staged beside it and swapped
    in whole, never mixed with an earlier set's; a folder of the user's is refused before any work. Returns the
    videos' relative paths, or None when ``output`` already holds this very set."""
    output = Path(output)
    check_sizes(spec)
    with atomic_files.output_lock(output, "--output_path"):
        VIDEO_SET.recover(output)
        before = VIDEO_SET.check_output_folder(output, "--output_path")
        manifest = VIDEO_SET.read_manifest(output) if before == "set" else None
        if manifest is not None and {"spec": manifest.get("spec")} == json.loads(json.dumps(spec_record(spec))):
            return None
        with VIDEO_SET.staged(output, before, spec_record(spec)) as staged:
            return generate_dataset(spec, staged.folder, workers, on_video)


def generate_dataset(spec: SyntheticSpec, output: Path, workers: int = 1,
                     on_video: Callable[[str], None] | None = None) -> list[str]:
    """Write every video of ``spec`` under ``output``; return their relative paths in order."""
    output = Path(output)
    for action in spec.actions:
        (output / action).mkdir(parents=True, exist_ok=True)
    jobs = [(spec, output, job) for job in spec.video_jobs()]
    written = []
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for relative in pool.imap(_write_one, jobs, chunksize=4):
                written.append(relative)
                if on_video:
                    on_video(relative)
        return written
    for job in jobs:
        written.append(_write_one(job))
        if on_video:
            on_video(written[-1])
    return written
