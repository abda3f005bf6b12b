"""predict.py: new videos labelled by a .keras model and by its exported .tflite, unreadable ones reported."""

import json

import pytest

from tests.scripts import run_script


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    videos, frames, model = root / "videos", root / "frames", root / "student.keras"
    for script, args in (("make_synthetic_dataset.py", ["--output_path", videos, "--groups", 3, "--clips_per_group", 3,
                                                        "--frame_width", 64, "--frame_height", 48]),
                         ("video_to_frames.py", ["--input_path", videos, "--output_path", frames, "--frame_height",
                                                 16, "--frame_width", 16, "--no_progress"]),
                         ("train_student.py", ["--data", frames, "--epochs", 1, "--batch_size", 4, "--width", 0.125, "--val_size", 0,
                                               "--output_path", model, "--logdir", root / "tb"]),
                         ("export_student.py", ["--data", frames, "--recognizer", model, "--output_dir", root / "export",
                                                "--timing_runs", 0, "--calibration_clips", 4])):
        result = run_script(script, *args, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
    broken = root / "broken.avi"
    broken.write_bytes(b"not a video at all")
    return root, sorted(videos.rglob("*.avi"))[:2], broken


@pytest.mark.parametrize("model", ["student.keras", "export/model_float32.tflite", "export/model_int8.tflite"])
def test_each_video_gets_its_top_classes_and_a_bad_one_a_line(trained, model):
    root, videos, broken = trained
    result = run_script("predict.py", "--recognizer", root / model, videos[0], broken, videos[1], "--top", 3)
    assert result.returncode == 2, result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "broken.avi" in errors[0] and "Traceback" not in result.stderr
    lines = [line for line in result.stdout.splitlines() if line.endswith(" ms)")]
    assert [line.split(":")[0] for line in lines] == [str(videos[0]), str(videos[1])]
    classes = ("WalkLeft", "WalkRight", "SquatDown", "StandUp", "RaiseArms", "LowerArms")
    for line in lines:
        named = [part.split()[0] for part in line.split(": ", 1)[1].split(" (decode")[0].split(", ")]
        assert len(named) == 3 and set(named) <= set(classes)


def test_json_lists_probabilities_that_sum_to_at_most_one(trained):
    root, videos, _ = trained
    result = run_script("predict.py", "--recognizer", root / "student.keras", *videos, "--json")
    assert result.returncode == 0, result.stderr
    labelled = json.loads(result.stdout[result.stdout.index("["):])
    assert [entry["video"] for entry in labelled] == [str(v) for v in videos]
    for entry in labelled:
        probabilities = [c["probability"] for c in entry["top"]]
        assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)
        assert 0.5 < sum(probabilities) <= 1.0 + 1e-6  # five of the six classes
        assert entry["decode_ms"] > 0 and entry["inference_ms"] > 0
