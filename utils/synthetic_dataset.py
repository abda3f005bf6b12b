"""The built-in synthetic action dataset: stick figures performing actions, as real video files.

Layout, as UCF101: ``output/Class/v_Class_gGG_cCC.avi`` (XVID in AVI, like UCF101's files).

A group gGG is one actor in one scene: body proportions, clothing colours, background and camera
are drawn once per (class, group), exactly as a UCF101 group is clips cut from one source video.
So a random clip-level split puts near-identical scenes on both sides and overstates accuracy,
as it does on UCF101, while a group split does not. Within a clip the speed, phase, position,
scale, noise level, brightness and length vary.

Some classes come in pairs that no single frame can tell apart, only their order in time:
WalkLeft/WalkRight (mirror-symmetric figure, only the direction of travel differs), SquatDown/
StandUp and RaiseArms/LowerArms (each the other played backwards, with the same distribution of
timings). A model has to use time to separate them.

Everything is drawn from ``numpy.random.default_rng`` seeded by (seed, class, group, clip), so a
given seed always gives the same videos, whatever the order or number of workers.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from utils import atomic_files
from utils.stick_figure import Body, Pose, draw

# Paired classes first, so that the default 6 classes include two time-only pairs.
ACTIONS = ("WalkLeft", "WalkRight", "SquatDown", "StandUp", "WaveHand", "JumpingJack",
           "RaiseArms", "LowerArms")
DEFAULT_CLASSES = 6
REST = Pose()


@dataclass(frozen=True)
class Scene:
    """What stays fixed across one group's clips: the actor, the background and the camera."""

    body: Body
    background: np.ndarray  # H×W×3 uint8 BGR
    ground_y: float  # pixel row the feet stand on
    figure_height: float  # pixels
    camera_x: float  # horizontal centre of the action, pixels


def smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def make_scene(rng: np.random.Generator, width: int, height: int) -> Scene:
    """A room: two-tone gradient wall, a floor, a few pieces of furniture, one actor."""
    top, bottom = rng.integers(30, 226, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    background = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1)
    ground_y = height * rng.uniform(0.78, 0.92)
    floor_colour = rng.integers(30, 226, size=3)
    background[int(ground_y):] = floor_colour
    background = np.ascontiguousarray(background.astype(np.uint8))
    for _ in range(rng.integers(2, 5)):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, x1 = sorted(rng.uniform(0, width, size=2))
        y0 = rng.uniform(0.2, 0.7) * height
        if rng.random() < 0.5:
            cv2.rectangle(background, (int(x0), int(y0)), (int(x1), int(ground_y)), colour, -1)
        else:
            cv2.circle(background, (int(x0), int(y0)), int(rng.uniform(0.03, 0.1) * width), colour, -1)
    return Scene(
        body=Body.random(rng),
        background=background,
        ground_y=ground_y,
        figure_height=height * rng.uniform(0.5, 0.68),
        camera_x=width * rng.uniform(0.4, 0.6),
    )


# --- actions: each maps clip progress t in [0, 1] (and per-clip parameters) to a pose -----------


def _transition(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 0 -> 1 move that starts, takes and ends at random times within the clip."""
    duration = rng.uniform(0.4, 0.75)
    start = rng.uniform(0.0, 1.0 - duration)
    return smoothstep((t - start) / duration)


def _squat_pose(depth: float) -> Pose:
    return Pose.symmetric(shoulder=12 + 55 * depth, elbow=10 * depth, hip=6 + 62 * depth, knee=-(4 + 118 * depth))


def _arms_pose(raised: float) -> Pose:
    return Pose.symmetric(shoulder=12 + 158 * raised, elbow=-12 * raised, hip=5, knee=0)


@dataclass(frozen=True)
class Motion:
    poses: list[Pose]
    x_offsets: np.ndarray  # horizontal travel of the figure, in figure heights
    lifts: np.ndarray  # jump height, in figure heights


def action_motion(action: str, frames: int, rng: np.random.Generator) -> Motion:
    """Poses and travel for ``frames`` frames of ``action``, with random speed and phase."""
    t = np.linspace(0.0, 1.0, frames)
    still = np.zeros(frames)
    cycles = rng.uniform(1.2, 3.0)  # speed: repetitions per clip
    phase = 2 * math.pi * (cycles * t + rng.uniform(0, 1))
    if action in ("WalkLeft", "WalkRight"):
        swing = rng.uniform(22, 34)
        poses = [  # mirror-symmetric at every phase: one frame does not show the direction
            Pose(left_shoulder=-swing * 0.8 * s, right_shoulder=swing * 0.8 * s,
                 left_hip=swing * s, right_hip=-swing * s, left_knee=0, right_knee=0,
                 left_elbow=0, right_elbow=0)
            for s in np.sin(phase)
        ]
        distance = rng.uniform(0.4, 0.8) * (1 if action == "WalkRight" else -1)
        return Motion(poses, distance * (t - 0.5), 0.015 * np.abs(np.sin(phase)))
    if action in ("SquatDown", "StandUp"):
        depth = _transition(t, rng)
        depth = depth if action == "SquatDown" else depth[::-1]
        return Motion([_squat_pose(d) for d in depth], still, still)
    if action in ("RaiseArms", "LowerArms"):
        raised = _transition(t, rng)
        raised = raised if action == "RaiseArms" else raised[::-1]
        return Motion([_arms_pose(r) for r in raised], still, still)
    if action == "WaveHand":
        waving_side = "right" if rng.random() < 0.5 else "left"
        sign = 1 if waving_side == "right" else -1
        poses = []
        for s in np.sin(phase * 1.5):
            angles = {f"{waving_side}_shoulder": sign * 135.0, f"{waving_side}_elbow": sign * (20 + 35 * s)}
            poses.append(Pose(**{**REST.__dict__, **angles}))
        return Motion(poses, still, still)
    if action == "JumpingJack":
        open_amount = (1 - np.cos(phase)) / 2
        poses = [Pose.symmetric(shoulder=15 + 150 * c, elbow=0, hip=4 + 24 * c, knee=0) for c in open_amount]
        return Motion(poses, still, 0.06 * np.abs(np.sin(phase)))
    raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")


# --- clips and files ------------------------------------------------------------------------------


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def scene_for(seed: int, class_index: int, group: int, width: int, height: int) -> Scene:
    return make_scene(_rng(seed, class_index, group), width, height)


def render_clip(action: str, scene: Scene, rng: np.random.Generator, frames: int) -> np.ndarray:
    """frames×H×W×3 uint8 BGR video of one clip of ``action`` in ``scene``."""
    height, width = scene.background.shape[:2]
    motion = action_motion(action, frames, rng)
    figure_height = scene.figure_height * rng.uniform(0.9, 1.1)
    start_x = scene.camera_x + rng.uniform(-0.12, 0.12) * width
    feet_y = scene.ground_y + rng.uniform(-0.03, 0.03) * height
    noise_sigma = rng.uniform(2.0, 8.0)
    gain = rng.uniform(0.85, 1.15)
    video = np.empty((frames, height, width, 3), dtype=np.uint8)
    for i, pose in enumerate(motion.poses):
        image = scene.background.copy()
        shake = rng.normal(0.0, 0.4, size=2)
        x = start_x + motion.x_offsets[i] * figure_height + shake[0]
        draw(image, scene.body, pose, (x, feet_y + shake[1]), figure_height, lift=motion.lifts[i])
        noisy = image.astype(np.float32) * gain + rng.normal(0.0, noise_sigma, size=image.shape)
        video[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return video


@dataclass(frozen=True)
class SyntheticSpec:
    """How many and what videos to write; the defaults make the demo dataset."""

    classes: int = DEFAULT_CLASSES
    groups: int = 5
    clips_per_group: int = 4
    width: int = 160
    height: int = 120
    fps: float = 25.0
    min_seconds: float = 1.6
    max_seconds: float = 4.0
    seed: int = 0
    fourcc: str = "XVID"

    def __post_init__(self):
        if not 1 <= self.classes <= len(ACTIONS):
            raise ValueError(f"--classes must be between 1 and {len(ACTIONS)}, got {self.classes}")
        if not 0 < self.min_seconds <= self.max_seconds:
            raise ValueError(f"--min_seconds {self.min_seconds} must be > 0 and <= --max_seconds "
                             f"{self.max_seconds}")

    def video_jobs(self) -> list[tuple[int, int, int]]:
        """(class index, group, clip) for every video, groups and clips numbered from 1."""
        return [
            (c, g, k)
            for c in range(self.classes)
            for g in range(1, self.groups + 1)
            for k in range(1, self.clips_per_group + 1)
        ]


def video_relative_path(class_index: int, group: int, clip: int) -> str:
    name = ACTIONS[class_index]
    return f"{name}/v_{name}_g{group:02d}_c{clip:02d}.avi"


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


def _write_one(args: tuple[SyntheticSpec, Path, tuple[int, int, int]]) -> str:
    spec, output, (class_index, group, clip) = args
    scene = scene_for(spec.seed, class_index, group, spec.width, spec.height)
    rng = _rng(spec.seed, class_index, group, clip, 1)
    frames = int(round(rng.uniform(spec.min_seconds, spec.max_seconds) * spec.fps))
    video = render_clip(ACTIONS[class_index], scene, rng, max(frames, 1))
    relative = video_relative_path(class_index, group, clip)
    write_video(output / relative, video, spec.fps, spec.fourcc)
    return relative


def generate_dataset(spec: SyntheticSpec, output: Path, workers: int = 1,
                     on_video: Callable[[str], None] | None = None) -> list[str]:
    """Write every video of ``spec`` under ``output``; return their relative paths in order."""
    output = Path(output)
    for class_index in range(spec.classes):
        (output / ACTIONS[class_index]).mkdir(parents=True, exist_ok=True)
    jobs = [(spec, output, job) for job in spec.video_jobs()]
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            written = []
            for relative in pool.imap(_write_one, jobs, chunksize=4):
                written.append(relative)
                if on_video:
                    on_video(relative)
            return written
    written = []
    for job in jobs:
        written.append(_write_one(job))
        if on_video:
            on_video(written[-1])
    return written
