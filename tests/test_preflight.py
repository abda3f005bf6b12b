"""What a run settles before it writes anything (utils/training/preflight.py, utils/atomic_files.py), in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.scripts import ROOT, lock_held_by_another_process
from utils.atomic_files import check_outputs_apart, output_lock
from utils.errors import InputError
from utils.ownership import ASIDE_RECORD
from utils.sidecar import write_sidecar
from utils.training import preflight
from utils.training.distribution import check_tf_config
from utils.training.outputs import RunPaths
from utils.training.teacher_cache import load_cache

RECORD = {"role": "student", "task": "student", "architecture": "c3d_student", "width": 0.5,
          "classes": ["A", "B"], "input_shape": [16, 32, 32, 3], "data": {"digest": "abc"},
          "split": {"protocol": "random", "test_size": 0.2, "val_size": 0.1, "seed": 0, "split_dir": None,
                    "split_id": 1, "test_indices": [1, 2]},
          "hyperparameters": {"batch_size": 8, "epochs": 50, "lr": 1e-4, "seed": 0, "init": "glorot",
                              "mixed_precision": "off", "jit_compile": "auto", "replicas": 1}}


def finished_run(folder: Path, record: dict = RECORD) -> RunPaths:
    paths = RunPaths.for_output(folder / "m.keras", logdir=folder / "tb")
    paths.output.write_bytes(b"model")
    write_sidecar(paths.output, record)
    paths.history.write_text("epoch,accuracy\n0,0.5\n")
    return paths


def with_changes(record: dict, **hyperparameters) -> dict:
    changed = json.loads(json.dumps(record))
    changed["hyperparameters"].update(hyperparameters)
    return changed


def test_identity_ignores_speed_settings_but_not_the_seed_or_the_epochs():
    same = preflight.run_identity(with_changes(RECORD, jit_compile="on", replicas=4))
    assert same == preflight.run_identity(RECORD)
    other = preflight.run_identity(with_changes(RECORD, seed=3))
    assert preflight.differences(preflight.run_identity(RECORD), other) == ["hyperparameters.seed 0 → 3"]
    longer = preflight.run_identity(with_changes(RECORD, epochs=80))  # 80 epochs of a schedule is another model
    assert preflight.differences(preflight.run_identity(RECORD), longer) == ["hyperparameters.epochs 50 → 80"]


def test_a_finished_run_is_skipped_when_asked_again_and_refused_with_other_settings(tmp_path):
    paths = finished_run(tmp_path)
    assert preflight.decide(paths, preflight.run_identity(RECORD), overwrite=False) == preflight.SKIP
    with pytest.raises(InputError, match=r"other settings \(hyperparameters.lr 0.0001 → 0.001\).*--overwrite"):
        preflight.decide(paths, preflight.run_identity(with_changes(RECORD, lr=1e-3)), overwrite=False)


def test_overwrite_keeps_the_finished_files_aside_until_the_new_model_is_complete(tmp_path):
    paths = finished_run(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    wanted = preflight.run_identity(with_changes(RECORD, lr=1e-3))
    decision = preflight.decide(paths, wanted, overwrite=True)
    preflight.prepare(paths, wanted, decision)
    previous = paths.previous
    assert {p.name: p.read_bytes() for p in previous.iterdir() if p.name != ASIDE_RECORD} == before
    assert not paths.output.exists()
    assert json.loads((paths.backup / preflight.RUN_RECORD).read_text()) == wanted
    preflight.discard_previous(paths)
    assert not previous.exists()


def test_a_backup_resumes_only_for_the_run_that_made_it(tmp_path):
    paths = RunPaths.for_output(tmp_path / "m.keras")
    wanted = preflight.run_identity(RECORD)
    preflight.prepare(paths, wanted, preflight.START)
    assert preflight.decide(paths, wanted, overwrite=False) == preflight.RESUME
    other = preflight.run_identity(with_changes(RECORD, seed=7))
    with pytest.raises(InputError, match=r"m.backup: the interrupted run there had other settings \(hyper"):
        preflight.decide(paths, other, overwrite=False)
    assert preflight.decide(paths, other, overwrite=True) == preflight.START
    (paths.backup / preflight.RUN_RECORD).write_text("{")
    with pytest.raises(InputError, match="run.json: damaged"):
        preflight.decide(paths, wanted, overwrite=False)


def test_outputs_may_not_be_or_hold_inputs_or_each_other(tmp_path):
    frames = tmp_path / "frames" / "frames.npy"
    with pytest.raises(InputError, match="--output_path .*is --source"):
        check_outputs_apart({"--output_path": tmp_path / "t.keras"}, {"--source": tmp_path / "t.keras"})
    with pytest.raises(InputError, match="--logdir .*contains --data"):
        check_outputs_apart({"--logdir": tmp_path / "frames"}, {"--data": frames})
    with pytest.raises(InputError, match="--log_path .*same file as --output_path"):
        check_outputs_apart({"--output_path": tmp_path / "a", "--log_path": tmp_path / "a"}, {})
    check_outputs_apart({"--output_path": tmp_path / "frames" / "s.keras"}, {"--data": frames})  # beside is fine


def test_an_output_lock_excludes_another_process_and_vanishes_with_its_holder(tmp_path):
    output = tmp_path / "evaluation"
    with lock_held_by_another_process(output) as holder:
        with pytest.raises(InputError, match=rf"{output} is being written by another run \(pid {holder.pid}\)"):
            with output_lock(output, "--output_dir"):
                pass
    with output_lock(output, "--output_dir") as lock:  # a killed holder's lock is free at once
        assert lock.exists()
    assert not lock.exists()  # removed when released: no litter beside the outputs


def test_a_damaged_teacher_logit_cache_is_computed_again(tmp_path):
    path = tmp_path / "teacher.logits-0.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    assert load_cache(path, {"k": 1}) is None
    np.savez(path, indices=np.arange(3), logits=np.full((3, 2), np.nan), key=np.array(json.dumps({"k": 1})))
    assert load_cache(path, {"k": 1}) is None
    np.savez(path, indices=np.arange(3), logits=np.zeros((3, 2)), key=np.array(json.dumps({"k": 1})))
    assert load_cache(path, {"k": 1})[1].shape == (3, 2)


@pytest.mark.parametrize("config, problem", [
    ("[]", "not a JSON object"),
    ('{"task": {"type": "worker", "index": 0}}', "cluster must map"),
    ('{"cluster": {"worker": "host:1"}, "task": {"type": "worker", "index": 0}}', "cluster.worker must be"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "task.type must be one of"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', "task.index must be"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": true}}', "task.index must be"),
])
def test_a_cluster_configuration_is_checked_field_by_field(config, problem):
    with pytest.raises(InputError, match=f"TF_CONFIG: {problem}"):
        check_tf_config(config)
    check_tf_config('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}')


@pytest.mark.parametrize("left", [(), ("run.json.partial",), ("run.json", "owned.json.partial")])
def test_a_backup_killed_while_its_records_were_written_is_the_runs_own(tmp_path, left):
    """A SIGKILL between prepare's mkdir and its last record leaves the folder empty or holding partial records:
    the same command resumes there; a folder holding anything else stays the user's."""
    from utils.ownership import claim

    paths = RunPaths.for_output(tmp_path / "m.keras")
    wanted = preflight.run_identity(RECORD)
    paths.backup.mkdir()
    for name in left:
        (paths.backup / name).write_text(json.dumps(wanted) if name == "run.json" else "{")
    claim(preflight.run_targets(paths), overwrite=False, aside=paths.previous, own_output=paths.output)
    assert preflight.decide(paths, wanted, overwrite=False) == preflight.RESUME
    preflight.prepare(paths, wanted, preflight.RESUME)
    assert sorted(p.name for p in paths.backup.iterdir()) == ["owned.json", "run.json"]
    (paths.backup / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="a folder this run did not write is in the way"):
        claim(preflight.run_targets(paths), overwrite=False, aside=paths.previous, own_output=paths.output)


def test_the_checks_distill_makes_before_tensorflow_loads_need_none_of_it(tmp_path):
    """distill.py claims its outputs before it imports TensorFlow (through utils.tensorflow_runtime, which keeps
    its start-up lines off stderr and its objects out of the collector's way): the claim must not import it."""
    (tmp_path / "m.backup").mkdir()
    code = ("import sys; from pathlib import Path; from utils.training import preflight; "
            "from utils.training.outputs import RunPaths; "
            f"preflight.run_targets(RunPaths.for_output(Path({str(tmp_path / 'm.keras')!r}))); "
            "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
