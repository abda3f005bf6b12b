#!/usr/bin/env python3
"""Write the built-in synthetic action dataset: stick figures acting in rooms, as XVID videos.

    python make_synthetic_dataset.py --output_path data/synthetic_videos
    python video_to_frames.py --input_path data/synthetic_videos --output_path data/synthetic_frames

Only the motion tells the classes apart: every room and actor (a group, gGG) appears in every
class, position, size, timing and lighting are drawn independently of the class, and the body
parts an action does not move are held where a moving one would pass, so one still frame is no
better than chance. The six default classes are three pairs that only time separates
(WalkLeft/WalkRight, SquatDown/StandUp, RaiseArms/LowerArms). The layout is UCF101's
(Class/v_Class_gGG_cCC.avi), so every script runs on it unchanged; the same --seed gives the
same videos.

    # the pretext set for the TUTL stand-in (pretrain_teacher.py): 15 actions disjoint from the six,
    # five pairs among them that differ only in direction of travel or direction in time
    python make_synthetic_dataset.py --actions pretext --output_path data/pretext_videos
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from utils import atomic_files
from utils.cli import OUTPUT_FILE, OUTPUT_FOLDER, SEED, WORKERS, ArgumentParser, Number, entry_point
from utils.data.synthetic_dataset import (
    ACTIONS,
    Difficulty,
    SyntheticSpec,
    contact_sheet,
    resolve_actions,
    write_video_set,
)
from utils.errors import InputError
from utils.machine import available_cores

ACTION_NAMES = ("target", "pretext", *ACTIONS)
GROUPS = Number(1, 99, integer=True)  # two digits in the file names, as UCF101's gGG and cCC
VIDEO_SIDE = Number(16, 4096, integer=True)
SECONDS = Number(0, 60, low_open=True)


def build_parser() -> ArgumentParser:
    defaults, nuisances = SyntheticSpec(), Difficulty()
    parser = ArgumentParser(prog="make_synthetic_dataset.py", description=__doc__,
                            epilog="Actions: target = " + ", ".join(ACTIONS[:6]) + "; pretext = "
                                   + ", ".join(ACTIONS[6:]))
    parser.add_argument("--output_path", type=OUTPUT_FOLDER, default=Path("data/synthetic_videos"),
                        help="folder to write the class folders into")
    parser.add_argument("--actions", nargs="+", default=["target"], metavar="ACTION", choices=ACTION_NAMES,
                        help="the classes, in label order: action names, or 'target' (the six default classes) "
                             "or 'pretext' (15 disjoint ones, for pre-training)")
    parser.add_argument("--classes", type=Number(1, len(ACTIONS), integer=True), default=None,
                        help="keep only the first N of --actions")
    parser.add_argument("--groups", type=GROUPS, default=defaults.groups,
                        help="groups (one actor in one room, the same in every class) per class")
    parser.add_argument("--clips_per_group", type=GROUPS, default=defaults.clips_per_group)
    parser.add_argument("--frame_width", type=VIDEO_SIDE, default=defaults.width)
    parser.add_argument("--frame_height", type=VIDEO_SIDE, default=defaults.height)
    parser.add_argument("--fps", type=Number(0, 240, low_open=True), default=defaults.fps)
    parser.add_argument("--min_seconds", type=SECONDS, default=defaults.min_seconds,
                        help="shortest clip (clip length is a difficulty knob: shorter clips leave "
                             "fewer frames between the 16 sampled ones)")
    parser.add_argument("--max_seconds", type=SECONDS, default=defaults.max_seconds, help="longest clip")
    parser.add_argument("--seed", type=SEED, default=defaults.seed)
    parser.add_argument("--workers", type=WORKERS, default=available_cores(),
                        help="rendering processes (default: all cores)")
    parser.add_argument("--preview", type=OUTPUT_FILE, default=None, metavar="IMAGE",
                        help="write only a picture (.png, .jpg) of one clip per class, all in group 1's room (8 of "
                             "the 16 frames extraction keeps), no videos: to look at a setting before generating")
    parser.add_argument("--preview_size", type=Number(16, 4096, integer=True), default=None, metavar="PIXELS",
                        help="show the preview's frames as extraction stores them at PIXELS x PIXELS")
    difficulty = parser.add_argument_group("difficulty", "nuisances drawn independently of the class")
    difficulty.add_argument("--distractors", type=Number(0, 50, integer=True), default=nuisances.distractors,
                            help="objects drifting across the room in every clip (motion that is not the action)")
    difficulty.add_argument("--camera_shake", type=Number(0, 20), default=nuisances.camera_shake,
                            help="standard deviation of the whole frame's jitter, in pixels of the video")
    difficulty.add_argument("--occlusion", type=Number(0, 1), default=nuisances.occlusion,
                            help="probability that a clip has a pillar in front of the actor")
    difficulty.add_argument("--noise", type=Number(0, 64), default=nuisances.noise,
                            help="largest standard deviation of the sensor noise, in grey levels (each clip "
                                 "draws 30-100%% of it)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        actions = resolve_actions(args.actions)
        if args.classes is not None:
            if args.classes > len(actions):
                raise ValueError(f"--classes {args.classes}: --actions gives only {len(actions)}")
            actions = actions[:args.classes]
        difficulty = Difficulty(args.distractors, args.camera_shake, args.occlusion, args.noise)
        spec = SyntheticSpec(actions, args.groups, args.clips_per_group, args.frame_width, args.frame_height,
                             args.fps, args.min_seconds, args.max_seconds, args.seed, difficulty)
    except ValueError as error:
        raise InputError(str(error)) from None
    if args.preview is not None:
        from utils.data.synthetic_dataset import is_preview
        from utils.ownership import Target, claim

        claim([Target(args.preview, "--preview", ours=is_preview)], overwrite=False, aside=None)
        try:
            print(f"wrote {contact_sheet(spec, args.preview, size=args.preview_size)}")
        except OSError as error:
            raise InputError(f"--preview {args.preview}: cannot be written ({error})") from None
        return
    atomic_files.require_writable_folder(args.output_path.parent, f"--output_path {args.output_path}")
    start = time.perf_counter()
    bars = []  # opened at the first finished video: a refused output folder prints its one line alone

    def advance(_video: str) -> None:
        if not bars:
            bars.append(tqdm(total=len(spec.video_jobs()), unit="video"))
        bars[0].update()

    try:
        written = write_video_set(spec, args.output_path, args.workers, on_video=advance)
    finally:
        for bar in bars:
            bar.close()
    if written is None:
        print(f"{args.output_path} already holds these {len(spec.video_jobs())} videos (same settings); skipped")
        return
    print(f"wrote {len(written)} videos of {spec.classes} classes to {args.output_path} "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    entry_point(main, "make_synthetic_dataset.py")
