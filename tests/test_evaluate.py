"""evaluate.py: scores recomputed independently with scikit-learn, refusals, plots, model cost."""

import json
import shutil

import numpy as np
import pytest
from sklearn import metrics

from tests.frames_factory import write_frames_folder
from tests.scripts import assert_one_line_error, run_in_process

# --mixed_precision off: float32, the same numbers on CPUs with and without bfloat16 units
TINY = ["--width", "0.25", "--batch_size", "4", "--lr", "1e-3", "--mixed_precision", "off"]
CLASSES = ("Bright", "Dark", "Red", "Grey", "Pale", "Dim")  # 6 classes, so top-5 is not trivially 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Frames, a student trained for a few epochs, and the evaluate.py output over it."""
    folder = tmp_path_factory.mktemp("evaluate")
    frames = write_frames_folder(folder / "frames", classes=CLASSES, groups=4, clips=3, shape=(16, 16, 16))
    model = folder / "student.keras"
    result = run_in_process("train_student.py", "--data", frames, "--epochs", 3, "--output_path", model,
                            "--logdir", folder / "tb", *TINY)
    assert result.returncode == 0, result.stderr
    output = folder / "evaluation"
    result = run_in_process("evaluate.py", "--data", frames, "--recognizer", model, "--output_dir", output,
                            "--timing_runs", 2)
    assert result.returncode == 0, result.stderr
    return frames, model, output, result


def test_scores_agree_with_scikit_learn_on_the_saved_predictions(trained):
    frames, model, output, _ = trained
    sidecar = json.loads(model.with_suffix(".json").read_text())
    saved = np.load(output / "student" / "predictions.npz")
    report = json.loads((output / "student" / "metrics.json").read_text())
    scores = report["scores"]

    # the model's own test clips, with their true labels
    assert saved["indices"].tolist() == sidecar["split"]["test_indices"]
    assert saved["labels"].tolist() == np.load(frames / "labels.npy")[saved["indices"]].tolist()
    assert report["test_clips"] == len(saved["indices"]) and report["split"]["source"] == "recorded"

    y, logits = saved["labels"], saved["logits"]
    assert logits.shape == (len(y), len(CLASSES))
    predicted = logits.argmax(axis=1)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    every = list(range(len(CLASSES)))
    assert scores["top1_accuracy"] == pytest.approx(metrics.accuracy_score(y, predicted))
    assert scores["top1_accuracy"] == pytest.approx(sidecar["metrics"]["test_accuracy"])  # Keras agreed in training
    assert scores["top5_accuracy"] == pytest.approx(metrics.top_k_accuracy_score(y, probabilities, k=5, labels=every))
    assert scores["mean_class_accuracy"] == pytest.approx(metrics.balanced_accuracy_score(y, predicted))
    for average in ("macro", "weighted"):
        assert scores[f"{average}_f1"] == pytest.approx(
            metrics.f1_score(y, predicted, labels=every, average=average, zero_division=0))
        assert scores[f"{average}_precision"] == pytest.approx(
            metrics.precision_score(y, predicted, labels=every, average=average, zero_division=0))
        assert scores[f"{average}_recall"] == pytest.approx(
            metrics.recall_score(y, predicted, labels=every, average=average, zero_division=0))
    assert scores["confusion_matrix"] == metrics.confusion_matrix(y, predicted, labels=every).tolist()
    for k, name in enumerate(CLASSES):
        per_class = scores["per_class"][name]
        assert per_class["support"] == int((y == k).sum())
        assert per_class["roc_auc"] == pytest.approx(metrics.roc_auc_score(y == k, probabilities[:, k]))
    assert scores["macro_roc_auc"] == pytest.approx(
        metrics.roc_auc_score(y, probabilities, multi_class="ovr", average="macro", labels=every))


def test_writes_plots_cost_and_a_comparison_table(trained):
    import keras

    from utils.evaluation.model_cost import flops_per_clip

    _, model, output, result = trained
    for name in ("confusion_matrix.png", "roc.png"):
        assert (output / "student" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cost = json.loads((output / "student" / "metrics.json").read_text())["cost"]
    assert cost["size_bytes"] == model.stat().st_size
    loaded = keras.models.load_model(model)
    assert cost["parameters"] == loaded.count_params() == cost["trainable_parameters"]
    assert cost["flops_per_clip"] == flops_per_clip(loaded)
    assert cost["speed"]["latency_ms_per_clip"] > 0 and cost["speed"]["throughput_clips_per_s"] > 0
    table = (output / "comparison.md").read_text()
    assert table in result.stdout and "| student | student |" in table
    csv_rows = (output / "comparison.csv").read_text().splitlines()
    assert len(csv_rows) == 2 and csv_rows[0].startswith("model,role,T,test clips,top-1 (%)")


def test_other_split_overlapping_the_training_clips_is_refused(trained, tmp_path):
    frames, model, _, _ = trained
    for flags in (["--seed", "1"], ["--split", "group"], ["--test_size", "0.5"]):
        result = run_in_process("evaluate.py", "--data", frames, "--recognizer", model, "--output_dir",
                                tmp_path / "out", *flags)
        assert_one_line_error(result, str(model), "were used to train or select it")
    assert not (tmp_path / "out").exists()


def test_models_that_do_not_match_the_data_are_refused(trained, tmp_path):
    frames, model, _, _ = trained
    renamed = tmp_path / "renamed"
    shutil.copytree(frames, renamed)
    (renamed / "classes.txt").write_text("".join(f"{c}x\n" for c in CLASSES))
    result = run_in_process("evaluate.py", "--data", renamed, "--recognizer", model, "--output_dir", tmp_path / "o")
    assert_one_line_error(result, "student.json", "classes differ")

    bigger = write_frames_folder(tmp_path / "bigger", classes=CLASSES, groups=4, clips=3, shape=(16, 32, 32))
    result = run_in_process("evaluate.py", "--data", bigger, "--recognizer", model, "--output_dir", tmp_path / "o")
    assert_one_line_error(result, "student.json", "[16, 16, 16, 3]", "[16, 32, 32, 3]")

    # same classes and shape, but other clips (one more group): the recorded split does not come out
    other = write_frames_folder(tmp_path / "other", classes=CLASSES, groups=5, clips=3, shape=(16, 16, 16))
    result = run_in_process("evaluate.py", "--data", other, "--recognizer", model, "--output_dir", tmp_path / "o")
    assert_one_line_error(result, "student.json", "trained on other frames", "--allow_other_frames")
    result = run_in_process("evaluate.py", "--data", other, "--recognizer", model, "--output_dir", tmp_path / "o",
                            "--allow_other_frames")  # allowed, the split recorded still has to come out of them
    assert_one_line_error(result, "student.json", "not the frames it was trained on")

    result = run_in_process("evaluate.py", "--data", frames, "--recognizer", tmp_path / "missing.keras")
    assert_one_line_error(result, "missing.keras", "not found")
    assert not (tmp_path / "o").exists()


def test_evaluating_the_same_model_again_gives_the_same_numbers(trained, tmp_path):
    frames, model, output, _ = trained
    result = run_in_process("evaluate.py", "--data", frames, "--recognizer", model, "--output_dir", tmp_path,
                            "--timing_runs", 2)
    assert result.returncode == 0, result.stderr
    first, again = (json.loads((folder / "student" / "metrics.json").read_text()) for folder in (output, tmp_path))
    for record in (first, again):
        record["cost"].pop("speed")  # wall-clock timings: the one part that is not repeatable
    assert again == first
    with np.load(output / "student" / "predictions.npz") as one, np.load(tmp_path / "student" / "predictions.npz") as two:
        assert sorted(one.files) == sorted(two.files)
        for name in one.files:
            np.testing.assert_array_equal(one[name], two[name])  # bit for bit, logits included


def test_each_model_is_loaded_once_and_a_folder_that_cannot_be_made_is_refused_before_any(trained, tmp_path,
                                                                                        monkeypatch):
    import keras

    frames, model, _, _ = trained
    second = tmp_path / "again" / "student.keras"
    second.parent.mkdir()
    for suffix in (".keras", ".json"):
        shutil.copy(model.with_suffix(suffix), second.with_suffix(suffix))
    loads = []
    real_load = keras.models.load_model
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: loads.append(a[0]) or real_load(*a, **k))
    output = tmp_path / "evaluation"
    result = run_in_process("evaluate.py", "--data", frames, "--recognizer", model, second, "--output_dir", output,
                            "--timing_runs", 0)
    assert result.returncode == 0, result.stderr
    assert sorted(map(str, loads)) == sorted([str(model), str(second)])  # checked and scored in one load each
    assert sorted(p.name for p in output.iterdir() if p.is_file()) == ["comparison.csv", "comparison.json",
                                                                        "comparison.md"]
    assert all((folder / "metrics.json").is_file() for folder in output.iterdir() if folder.is_dir())
    assert len([folder for folder in output.iterdir() if folder.is_dir()]) == 2

    loads.clear()
    (tmp_path / "a_file").write_text("a user's file\n")
    refused = run_in_process("evaluate.py", "--data", frames, "--recognizer", model, "--output_dir",
                             tmp_path / "a_file" / "evaluation")
    assert_one_line_error(refused, "--output_dir", "a_file")
    assert not loads and (tmp_path / "a_file").read_text() == "a user's file\n"
