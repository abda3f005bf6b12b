"""predict.py: new videos labelled by a .keras model, by its exported .tflite and by its export folder (the
recommended form, or the fastest here), unreadable videos reported; a .tflite that does not match its
sidecar, a truncated one and an export folder mixed with another export's file refused in one line."""

import json
import shutil

import pytest

from tests.scripts import assert_one_line_error, run_in_process, run_script


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
        result = (run_in_process if script.startswith(("train", "export")) else run_script)(script, *args)
        assert result.returncode == 0, result.stderr[-2000:]
    broken = root / "broken.avi"
    broken.write_bytes(b"not a video at all")
    return root, sorted(videos.rglob("*.avi"))[:2], broken


@pytest.mark.parametrize("model", ["student.keras", "export/model_float32.tflite", "export/model_int8.tflite"])
def test_each_video_gets_its_top_classes_and_a_bad_one_a_line(trained, model):
    root, videos, broken = trained
    result = run_in_process("predict.py", "--recognizer", root / model, videos[0], broken, videos[1], "--top", 3)
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
    result = run_in_process("predict.py", "--recognizer", root / "student.keras", *videos, "--json")
    assert result.returncode == 0, result.stderr
    labelled = json.loads(result.stdout[result.stdout.index("["):])
    assert [entry["video"] for entry in labelled] == [str(v) for v in videos]
    for entry in labelled:
        probabilities = [c["probability"] for c in entry["top"]]
        assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)
        assert 0.5 < sum(probabilities) <= 1.0 + 1e-6  # five of the six classes
        assert entry["decode_ms"] > 0 and entry["inference_ms"] > 0


def labelled_lines(result):
    return [line for line in result.stdout.splitlines() if line.endswith(" ms)")]


def test_an_export_folder_runs_the_fastest_agreeing_form_timed_here_when_the_export_was_not(trained):
    root, videos, _ = trained
    result = run_in_process("predict.py", "--recognizer", root / "export", *videos, "--top", 2)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("using ") and ": the export was not timed, so the " in first, first
    assert "forms with ≥ 99% top-1 agreement with Keras were timed here on one clip: fastest, " in first
    report = json.loads((root / "export" / "export_report.json").read_text())
    chosen = first.split()[1].rstrip(":")
    assert chosen in [form["path"] for form in report["forms"] if form["top1_agreement"] >= 0.99]
    assert [line.split(":")[0] for line in labelled_lines(result)] == [str(v) for v in videos]


def test_form_runs_the_form_asked_for_and_json_keeps_stdout_for_the_document(trained):
    root, videos, _ = trained
    result = run_in_process("predict.py", "--recognizer", root / "export", "--form", "int8", videos[0], "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("using model_int8.tflite: --form int8 (")
    assert [entry["video"] for entry in json.loads(result.stdout)] == [str(videos[0])]
    result = run_in_process("predict.py", "--recognizer", root / "export" / "model_int8.tflite", "--form", "int8",
                            videos[0])
    assert_one_line_error(result, "--form int8", "applies to an export folder")


def copy_beside_its_sidecar(root, tmp_path, name, edit=None):
    """``name`` of the export with a model.json (changed by ``edit``) in a folder of its own, no manifest."""
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(root / "export" / name, folder / name)
    record = json.loads((root / "export" / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(edit(record) if edit else record))
    return folder / name


@pytest.mark.parametrize("edit, fragments", [
    (lambda r: {**r, "classes": r["classes"][:5]}, ["gives 6 scores", "lists 5 classes"]),
    (lambda r: {**r, "input_shape": [16, 32, 32, 3]}, ["input shape [16, 16, 16, 3]", "[16, 32, 32, 3]"]),
], ids=["classes", "clip shape"])
def test_a_tflite_model_is_checked_against_its_sidecar(trained, tmp_path, edit, fragments):
    root, videos, _ = trained
    model = copy_beside_its_sidecar(root, tmp_path, "model_int8.tflite", edit)
    result = run_in_process("predict.py", "--recognizer", model, videos[0])
    assert_one_line_error(result, str(model), "model.json", *fragments)


def test_a_truncated_tflite_model_is_refused_in_one_line(trained, tmp_path):
    root, videos, _ = trained
    model = copy_beside_its_sidecar(root, tmp_path, "model_float32.tflite")
    model.write_bytes(model.read_bytes()[:len(model.read_bytes()) // 2])
    result = run_in_process("predict.py", "--recognizer", model, videos[0])
    assert_one_line_error(result, str(model), "not a readable TFLite model", "truncated or damaged")


@pytest.mark.parametrize("damage", ["another export's file", "same size, other bytes"])
def test_an_export_folder_mixed_or_damaged_is_refused_naming_the_folder(trained, tmp_path, damage):
    root, videos, _ = trained
    export = tmp_path / "export"
    shutil.copytree(root / "export", export)
    target = export / "model_int8.tflite"
    if damage == "another export's file":
        shutil.copy(export / "model_dynamic_int8.tflite", target)
    else:
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    for recognizer in (export, target):
        result = run_in_process("predict.py", "--recognizer", recognizer, "--form", "int8", videos[0]) \
            if recognizer == export else run_in_process("predict.py", "--recognizer", recognizer, videos[0])
        assert_one_line_error(result, str(export), "incomplete or mixed", "model_int8.tflite",
                              "run export_student.py again")
