#!/usr/bin/env python3
"""Turn a folder of class sub-folders of videos into frames.npy, labels.npy and their reports.

Each video gives one clip of --sequence_length frames taken uniformly over the frames that really
decode (skip = max(n // T, 1); frames 0, skip, 2*skip, ...), resized to --frame_width x
--frame_height and stored as uint8 RGB. Unreadable and too-short videos are skipped and listed in
Format_Time_Summary.txt. The output folder's files are replaced as a whole, under a lock: a run
that is killed leaves the earlier extraction or a folder that readers refuse, never a mix (see
docs/extraction.md). Example:

    python video_to_frames.py --input_path Datasets/UCF11 --sequence_length 16 \\
        --frame_height 112 --frame_width 112 --output_path Output_dataset/UCF11
"""

from __future__ import annotations

from utils.cli import FRAME_SIDE, FRAMES_PER_CLIP, INPUT_FOLDER, OUTPUT_FOLDER, WORKERS, ArgumentParser, entry_point
from utils.data.frame_extraction import ClipSettings, extract_frames
from utils.data.frame_sampler import SHORT_VIDEO_POLICIES
from utils.machine import available_cores


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="video_to_frames.py", description=__doc__)
    parser.add_argument("--input_path", type=INPUT_FOLDER, required=True,
                        help="folder with one sub-folder of videos per class (searched recursively)")
    parser.add_argument("--sequence_length", type=FRAMES_PER_CLIP, default=16, help="frames per clip (T)")
    parser.add_argument("--frame_height", type=FRAME_SIDE, default=112, help="stored frame height (H)")
    parser.add_argument("--frame_width", type=FRAME_SIDE, default=112, help="stored frame width (W)")
    parser.add_argument("--output_path", type=OUTPUT_FOLDER, required=True,
                        help="folder for frames.npy and the other outputs (created if missing)")
    parser.add_argument("--workers", type=WORKERS, default=available_cores(),
                        help="decoding processes (default: all cores of this machine)")
    parser.add_argument("--short_videos", choices=SHORT_VIDEO_POLICIES, default="drop",
                        help="videos with fewer than T frames: drop them (as the paper) or pad by "
                             "repeating the last frame")
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = ClipSettings(args.sequence_length, args.frame_height, args.frame_width, args.short_videos)
    report = extract_frames(args.input_path, args.output_path, settings, args.workers,
                            progress=not args.no_progress)
    kept, skipped = len(report.kept), len(report.skipped)
    print(f"kept {kept} of {kept + skipped} videos in {len(report.kept_classes)} classes "
          f"({report.wall_seconds:.1f} s); wrote {args.output_path}/frames.npy "
          f"{(kept, *settings.clip_shape)}")
    if skipped:
        print(f"skipped {skipped} videos: see {args.output_path}/Format_Time_Summary.txt")


if __name__ == "__main__":
    entry_point(main, "video_to_frames.py")
