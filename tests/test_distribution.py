"""tf.distribute: strategy selection, per-replica input shares, and a real two-worker run whose
model equals a one-process run of the same global batch and seed."""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from tests.preloaded import ForkedPython
from tests.scripts import (
    assert_one_line_error,
    history_epochs,
    kill_point,
    run_code,
    run_in_process,
    run_script,
    signal_group,
    start_script,
    wait_until,
)
from utils.data.frames_data import open_frames
from utils.training.distribution import is_chief, worker_place
from utils.training.input_pipeline import clip_dataset

# --mixed_precision off: float32, the same numbers on CPUs with and without bfloat16 units
FAST = ["--width", "0.125", "--batch_size", "4", "--lr", "1e-3", "--epochs", "2", "--mixed_precision", "off"]


def fake_multiworker(cluster: dict, task_type: str, task_id: int):
    resolver = SimpleNamespace(cluster_spec=lambda: SimpleNamespace(as_dict=lambda: cluster), task_type=task_type,
                               task_id=task_id)
    return SimpleNamespace(cluster_resolver=resolver)


def test_the_chief_is_the_chief_task_or_worker_0():
    workers = {"worker": ["a:1", "b:2", "c:3"]}
    assert [worker_place(fake_multiworker(workers, "worker", i)) for i in range(3)] == [(0, 3), (1, 3), (2, 3)]
    assert [is_chief(fake_multiworker(workers, "worker", i)) for i in range(3)] == [True, False, False]
    with_chief = {"chief": ["a:1"], "worker": ["b:2"]}
    assert is_chief(fake_multiworker(with_chief, "chief", 0)) and not is_chief(fake_multiworker(with_chief, "worker", 0))
    assert worker_place(SimpleNamespace()) == (0, 1)  # the default strategy has no cluster


def test_strategy_selection_on_a_cpu_machine():
    code = ("import json, utils.training.distribution as d; s = {n: d.make_strategy(n) for n in ('none', 'auto', 'mirrored')}; "
            "print(json.dumps({n: [type(v).__name__, v.num_replicas_in_sync] for n, v in s.items()}))")
    env = {**os.environ, "HAR_KD_LOGICAL_CPUS": "2"}
    result = run_code(code, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    chosen = json.loads(result.stdout.strip().splitlines()[-1])
    assert chosen["none"][1] == 1 and chosen["auto"][1] == 1  # auto: mirrored only with 2+ GPUs
    assert chosen["mirrored"] == ["MirroredStrategy", 2]


def test_replica_shares_partition_each_global_batch_and_read_only_their_clips(tmp_path):
    frames = write_frames_folder(tmp_path / "frames", groups=4, clips=3, shape=(16, 16, 16))
    data = open_frames(frames)
    indices = np.arange(len(data.labels))
    whole = [labels.numpy() for _, labels in clip_dataset(data, indices, 8, shuffle=True, seed=3)]
    shares = []
    for first in range(4):  # 2 workers x 2 replicas: worker 1's dataset holds replicas 2 and 3
        if first % 2:
            continue
        reads = []

        class CountingReader:
            clip_shape = data.clip_shape

            def read(self, rows):
                reads.extend(rows.tolist())
                return np.zeros((len(rows), *data.clip_shape), np.uint8)

        batches = [labels.numpy() for _, labels in clip_dataset(data, indices, 8, shuffle=True, seed=3,
                                                                reader=CountingReader(), share=(first, 2, 4))]
        assert all(len(b) == 2 for b in batches)  # 8 clips / 4 replicas
        shares.append(batches)
        assert len(reads) == 2 * 2 * (len(indices) // 8)  # only this worker's clips, incomplete batch dropped
    for step, global_batch in enumerate(whole[:len(indices) // 8]):
        parts = np.concatenate([shares[0][2 * step], shares[0][2 * step + 1], shares[1][2 * step],
                                shares[1][2 * step + 1]])
        np.testing.assert_array_equal(np.sort(parts), np.sort(global_batch))


def test_multiworker_without_tf_config_is_a_one_line_error(tmp_path):
    frames = write_frames_folder(tmp_path / "frames", groups=3, clips=3, shape=(16, 16, 16))
    result = run_in_process("train_student.py", "--data", frames, "--output_path", tmp_path / "s.keras", "--strategy",
                            "multiworker", *FAST, env={"TF_CONFIG": None})
    assert_one_line_error(result, "--strategy multiworker", "TF_CONFIG")


def test_jit_compile_on_over_several_replicas_is_a_one_line_error(tmp_path):
    frames = write_frames_folder(tmp_path / "frames", groups=3, clips=3, shape=(16, 16, 16))
    output = tmp_path / "s.keras"
    result = run_script("train_student.py", "--data", frames, "--output_path", output, "--strategy", "mirrored",
                        "--jit_compile", "on", *FAST, env={**os.environ, "HAR_KD_LOGICAL_CPUS": "2"})
    assert_one_line_error(result, "--jit_compile on", "2 replicas")
    assert not output.exists()


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_two_workers(script: str, args: list, output, temporary: Path) -> list[ForkedPython]:
    """Two worker processes on 127.0.0.1 (TF_CONFIG), each in its own session; TMPDIR=temporary."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes = []
    temporary.mkdir(exist_ok=True)
    for index in range(2):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TMPDIR": str(temporary), "TF_CONFIG": json.dumps(task)}
        processes.append(start_script(script, *args, "--output_path", output, "--strategy", "multiworker", env=env))
    return processes


def two_workers(script: str, args: list, output, temporary: Path) -> list[subprocess.CompletedProcess]:
    processes = start_two_workers(script, args, output, temporary)
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


@pytest.mark.multiworker
@pytest.mark.timeout(600)
def test_two_workers_train_and_distil_the_same_models_as_one_process(tmp_path):
    import keras

    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=4, clips=4,
                                 shape=(16, 16, 16))
    one, two = tmp_path / "one_process", tmp_path / "two_workers"
    one.mkdir()
    two.mkdir()
    mirrored_env = {**os.environ, "HAR_KD_LOGICAL_CPUS": "2"}
    for script, extra in (("train_teacher.py", []), ("distill.py", ["--temperature", "5"])):
        name = "teacher" if script == "train_teacher.py" else "student"
        teacher_args = {"one": ["--source", one / "teacher.keras"], "two": ["--source", two / "teacher.keras"]}
        common = ["--data", frames, *FAST, *extra]
        reference = run_script(script, *common, *(teacher_args["one"] if name == "student" else []), "--output_path",
                               one / f"{name}.keras", "--logdir", one / f"tb_{name}", "--strategy", "mirrored",
                               env=mirrored_env)
        assert reference.returncode == 0, reference.stderr[-3000:]
        assert "training on 2 replicas" in reference.stdout
        workers = two_workers(script, [*common, *(teacher_args["two"] if name == "student" else []), "--logdir",
                                       two / f"tb_{name}"], two / f"{name}.keras", tmp_path / "tmp")
        for worker in workers:
            assert worker.returncode == 0, worker.stderr[-3000:]
        assert "saved to" in workers[0].stdout and "saved to" not in workers[1].stdout  # only the chief saves
        assert not any((tmp_path / "tmp").glob("har_kd_worker_*"))  # the other worker's folder is gone
        a = keras.models.load_model(one / f"{name}.keras")
        b = keras.models.load_model(two / f"{name}.keras")
        for x, y in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
        record = json.loads((two / f"{name}.json").read_text())["hyperparameters"]
        assert record["strategy"] == "multiworker" and record["replicas"] == 2 and record["epochs"] == 2

    def outputs(folder):  # the teacher-logit cache's name hashes the teacher file's bytes
        return sorted(p.name for p in folder.iterdir() if p.is_file() and ".logits-" not in p.name)

    assert outputs(two) == outputs(one)

    # Files decide resumption and skipping; the chief decides for all, or a worker that saw the
    # files a moment later (or not at all) would train alone and wait forever for the other.
    teacher_bytes = (two / "teacher.keras").read_bytes()
    (two / "teacher.backup").mkdir()  # as left by a run stopped while removing its backup
    (two / "teacher.backup" / "training_metadata.json").write_text('{"epoch": 2}')
    again = two_workers("train_teacher.py", ["--data", frames, *FAST], two / "teacher.keras", tmp_path / "tmp")
    assert [worker.returncode for worker in again] == [0, 0], again[1].stderr[-3000:]
    assert "removed the backup" in again[0].stdout
    assert not (two / "teacher.backup").exists() and (two / "teacher.keras").read_bytes() == teacher_bytes
    again = two_workers("distill.py", ["--data", frames, *FAST, "--temperature", "5", "--source", two / "teacher.keras"],
                        two / "student.keras", tmp_path / "tmp")
    assert [worker.returncode for worker in again] == [0, 0], again[1].stderr[-3000:]
    assert "already trained with these settings" in again[0].stdout


@pytest.mark.multiworker
@pytest.mark.timeout(600)
def test_two_workers_killed_at_a_random_point_resume_from_the_chiefs_backup(tmp_path):
    frames = write_frames_folder(tmp_path / "frames", classes=("Bright", "Dark"), groups=4, clips=4,
                                 shape=(16, 16, 16))
    output, epochs = tmp_path / "teacher.keras", 4
    args = ["--data", frames, *FAST, "--epochs", epochs, "--logdir", tmp_path / "tb"]  # the later --epochs wins
    rng = kill_point()
    after = rng.randint(1, epochs - 1)  # epochs in the chief's backup before the kill, then a random delay

    def backed_up() -> int:
        try:
            return json.loads((tmp_path / "teacher.backup" / "training_metadata.json").read_text())["epoch"]
        except (OSError, ValueError, KeyError):
            return 0

    workers = start_two_workers("train_teacher.py", args, output, tmp_path / "tmp")
    wait_until(lambda: backed_up() >= after, workers[0])
    time.sleep(rng.uniform(0, 0.5))
    for worker in workers:
        signal_group(worker, signal.SIGKILL)
        worker.communicate()
    assert not output.exists() or output.with_suffix(".json").exists()

    again = two_workers("train_teacher.py", args, output, tmp_path / "tmp")
    assert [worker.returncode for worker in again] == [0, 0], again[0].stderr[-3000:] + again[1].stderr[-3000:]
    if "resuming from the end of epoch" in again[0].stdout:  # else the kill came after the final save
        assert "resuming from the end of epoch" in again[1].stdout  # both resumed from the chief's backup
    assert history_epochs(tmp_path / "teacher.history.csv") == list(range(epochs))
    assert json.loads(output.with_suffix(".json").read_text())["hyperparameters"]["epochs"] == epochs
    assert not (tmp_path / "teacher.backup").exists()
