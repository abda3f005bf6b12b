"""A small video set of a kind the built-in generator does not make, to check that the demo's recipe
is not tuned to the synthetic actions: ``make demo VIDEOS=DIR`` on it.

Six classes, one per direction of travel (every 60 degrees, right first, counter-clockwise): one
simple shape (disc, square, triangle or ring; random colour and size) crosses a textured background
(blurred noise, stripes or a checkerboard, random colours) in that direction, at a random speed
and starting point, past a second shape that drifts in a random direction. 40 videos a class,
160x120 XVID at 25 fps, 1.6-2.4 s; the same ``--seed`` gives the same videos.

    python -m bench.unseen_videos --output_path data/unseen_videos
    make demo VIDEOS=data/unseen_videos
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("Right", "UpRight", "UpLeft", "Left", "DownLeft", "DownRight")  # every 60 degrees
WIDTH, HEIGHT, FPS = 160, 120, 25.0


def background(rng: np.random.Generator) -> np.ndarray:
    """A textured, static background: blurred noise, stripes or a checkerboard in two random colours."""
    a, b = (rng.integers(20, 236, size=3).astype(np.float32) for _ in range(2))
    kind = rng.integers(3)
    if kind == 0:
        mix = cv2.GaussianBlur(rng.random((HEIGHT, WIDTH)).astype(np.float32), (0, 0), rng.uniform(2, 6))
        mix = (mix - mix.min()) / max(float(mix.max() - mix.min()), 1e-6)
    else:
        y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        period = rng.uniform(8, 24)
        if kind == 1:
            angle = rng.uniform(0, math.pi)
            mix = 0.5 + 0.5 * np.sin(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle)) / period)
        else:
            mix = ((x // period + y // period) % 2).astype(np.float32)
    image = a * mix[..., None] + b * (1 - mix[..., None])
    return np.clip(image, 0, 255).astype(np.uint8)


def draw_shape(image: np.ndarray, kind: int, centre: np.ndarray, size: float, colour: tuple[int, int, int]) -> None:
    x, y = (int(round(v * 16)) for v in centre)  # 4 fractional bits
    r = int(round(size * 16))
    if kind == 0:
        cv2.circle(image, (x, y), r, colour, -1, cv2.LINE_AA, 4)
    elif kind == 1:
        cv2.rectangle(image, (x - r, y - r), (x + r, y + r), colour, -1, cv2.LINE_AA, 4)
    elif kind == 2:
        points = np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], dtype=np.int32)
        cv2.fillPoly(image, [points], colour, cv2.LINE_AA, 4)
    else:
        cv2.circle(image, (x, y), r, colour, max(2, int(size / 2)), cv2.LINE_AA, 4)


def clip(direction: int, rng: np.random.Generator) -> np.ndarray:
    frames = int(round(rng.uniform(1.6, 2.4) * FPS))
    scene = background(rng)
    angle = math.radians(60 * direction + rng.uniform(-10, 10))
    velocity = np.array([math.cos(angle), -math.sin(angle)]) * rng.uniform(1.2, 2.5)  # pixels a frame, y down
    centre = np.array([WIDTH / 2, HEIGHT / 2]) + rng.uniform(-15, 15, size=2)
    start = centre - velocity * frames / 2
    size = rng.uniform(7, 14)
    kind = int(rng.integers(4))
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    other_start = rng.uniform((10, 10), (WIDTH - 10, HEIGHT - 10))
    other_velocity = rng.normal(0, 0.6, size=2)
    other = (int(rng.integers(4)), rng.uniform(5, 10), tuple(int(c) for c in rng.integers(0, 256, size=3)))
    noise = rng.uniform(1, 5)
    video = np.empty((frames, HEIGHT, WIDTH, 3), np.uint8)
    for i in range(frames):
        image = scene.copy()
        draw_shape(image, other[0], other_start + other_velocity * i, other[1], other[2])
        draw_shape(image, kind, start + velocity * i, size, colour)
        grain = rng.normal(0, noise, size=image.shape)
        video[i] = np.clip(image + grain, 0, 255).astype(np.uint8)
    return video


def write(output: Path, videos_per_class: int, seed: int) -> int:
    count = 0
    for direction, name in enumerate(CLASSES):
        (output / name).mkdir(parents=True, exist_ok=True)
        for k in range(videos_per_class):
            rng = np.random.default_rng([seed, direction, k])
            path = output / name / f"v_{name}_g{k // 4 + 1:02d}_c{k % 4 + 1:02d}.avi"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"XVID"), FPS, (WIDTH, HEIGHT))
            for frame in clip(direction, rng):
                writer.write(frame)
            writer.release()
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_path", type=Path, default=Path("data/unseen_videos"))
    parser.add_argument("--videos_per_class", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"wrote {write(args.output_path, args.videos_per_class, args.seed)} videos to {args.output_path}")


if __name__ == "__main__":
    main()
