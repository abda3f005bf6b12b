#!/usr/bin/env python3
"""Write the built-in synthetic action dataset: stick figures acting, as XVID videos.

The layout is UCF101's (Class/v_Class_gGG_cCC.avi), so every script of this project runs on it
unchanged. A group is one actor in one scene; some class pairs differ only in time (WalkLeft/
WalkRight, SquatDown/StandUp, RaiseArms/LowerArms). Same --seed, same videos. Example:

    python make_synthetic_dataset.py --output_path data/synthetic_videos
    python video_to_frames.py --input_path data/synthetic_videos --output_path data/synthetic_frames
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from utils.cli import ArgumentParser, positive_float, positive_int, run
from utils.errors import InputError
from utils.resource_usage import available_cores
from utils.synthetic_dataset import ACTIONS, DEFAULT_CLASSES, SyntheticSpec, generate_dataset


def build_parser() -> ArgumentParser:
    defaults = SyntheticSpec()
    parser = ArgumentParser(prog="make_synthetic_dataset.py", description=__doc__,
                            epilog="Classes, in order: " + ", ".join(ACTIONS))
    parser.add_argument("--output_path", type=Path, default=Path("data/synthetic_videos"),
                        help="folder to write the class folders into")
    parser.add_argument("--classes", type=positive_int, default=DEFAULT_CLASSES,
                        help=f"number of action classes, 1 to {len(ACTIONS)} (the first ones listed below)")
    parser.add_argument("--groups", type=positive_int, default=defaults.groups,
                        help="groups (actor + scene) per class")
    parser.add_argument("--clips_per_group", type=positive_int, default=defaults.clips_per_group)
    parser.add_argument("--frame_width", type=positive_int, default=defaults.width)
    parser.add_argument("--frame_height", type=positive_int, default=defaults.height)
    parser.add_argument("--fps", type=positive_float, default=defaults.fps)
    parser.add_argument("--min_seconds", type=positive_float, default=defaults.min_seconds,
                        help="shortest clip")
    parser.add_argument("--max_seconds", type=positive_float, default=defaults.max_seconds,
                        help="longest clip")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workers", type=positive_int, default=available_cores(),
                        help="rendering processes (default: all cores)")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    try:
        spec = SyntheticSpec(args.classes, args.groups, args.clips_per_group, args.frame_width,
                             args.frame_height, args.fps, args.min_seconds, args.max_seconds, args.seed)
    except ValueError as error:
        raise InputError(str(error)) from None
    try:
        args.output_path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{args.output_path}: cannot create the output folder ({error.strerror})") from None
    start = time.perf_counter()
    with tqdm(total=len(spec.video_jobs()), unit="video") as bar:
        written = generate_dataset(spec, args.output_path, args.workers, on_video=lambda _: bar.update())
    print(f"wrote {len(written)} videos of {spec.classes} classes to {args.output_path} "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    run(main, "make_synthetic_dataset.py")
