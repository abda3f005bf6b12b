"""The epoch backup an interrupted run resumes from (utils/training/callbacks.EpochBackup): whatever
instant a run dies at, the backup names a complete weights file of the epoch it states."""

import json
import os
import signal
import textwrap
import time

import keras
import numpy as np
import pytest

from tests.scripts import kill_point, start_code
from utils.errors import InputError
from utils.training.callbacks import EpochBackup, backup_state


def compiled_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def trained_model(seed: int = 0) -> keras.Model:
    model = compiled_model(seed)
    model.fit(np.ones((8, 4)), np.zeros(8), epochs=2, verbose=0)
    return model


def backup_of(model: keras.Model, folder, epochs: int = 1) -> EpochBackup:
    backup = EpochBackup(folder)
    backup.set_model(model)
    for epoch in range(epochs):
        backup.on_epoch_end(epoch)
    return backup


def restored(folder) -> tuple[keras.Model, int]:
    model = compiled_model(seed=1)  # other initial weights, optimizer not built yet
    backup = EpochBackup(folder)
    backup.set_model(model)
    backup.on_train_begin()
    return model, backup.restored_epoch


def same_weights(a: keras.Model, b: keras.Model) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


def test_a_backup_restores_weights_optimizer_state_and_epoch_and_keeps_one_weights_file(tmp_path):
    model = trained_model()
    backup_of(model, tmp_path / "b", epochs=3)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["epoch-3.weights.h5", "training_metadata.json"]
    assert backup_state(tmp_path / "b") == (3, tmp_path / "b" / "epoch-3.weights.h5")

    again, epoch = restored(tmp_path / "b")
    assert epoch == 3 and same_weights(again, model)
    assert int(again.optimizer.iterations) == int(model.optimizer.iterations) == 2
    assert all(np.array_equal(x, y) for x, y in zip(again.optimizer.variables, model.optimizer.variables, strict=True))


def test_a_kill_while_the_first_epoch_is_saved_starts_from_scratch_and_the_partial_file_goes(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "epoch-1.partial.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # cut mid-write
    assert backup_state(folder) == (0, None)
    model, epoch = restored(folder)
    assert epoch == 0 and same_weights(model, compiled_model(seed=1))

    backup_of(model, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-1.weights.h5", "training_metadata.json"]


def test_a_kill_between_the_weights_and_their_record_resumes_from_the_epoch_before(tmp_path):
    first = trained_model(seed=0)
    backup_of(first, tmp_path / "b")  # epoch 1 complete
    later = trained_model(seed=5)
    later.save_weights(str(tmp_path / "b" / "epoch-2.weights.h5"))  # epoch 2's file renamed, its record not yet
    model, epoch = restored(tmp_path / "b")
    assert epoch == 1 and same_weights(model, first)


def test_a_backup_written_by_keras_backup_and_restore_is_still_resumed(tmp_path):
    model = trained_model()
    folder = tmp_path / "b"
    folder.mkdir()
    model.save_weights(str(folder / "copy.weights.h5"))
    os.replace(folder / "copy.weights.h5", folder / "latest.weights.h5.bkp")
    (folder / "training_metadata.json.bkp").write_text('{"epoch": 4, "batch": 0}')
    (folder / "training_metadata.json").write_text("")  # a kill between Keras's truncate and write
    again, epoch = restored(folder)
    assert epoch == 4 and same_weights(again, model)


@pytest.mark.parametrize("record, message", [
    ('{"epoch": 2, "batch": 0, "weights": "epoch-2.weights.h5"}', "epoch-2.weights.h5, which training_metadata"),
    ('{"epoch": 2, "weights": "../x.weights.h5"}', "holds no epoch"),
    ('{"epoch": -1}', "holds no epoch"),
    ("[]", "holds no epoch"),
])
def test_a_backup_naming_nothing_loadable_is_refused_in_one_line(tmp_path, record, message):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "training_metadata.json").write_text(record)
    with pytest.raises(InputError, match="delete this folder") as error:
        restored(folder)
    assert message in str(error.value) and "\n" not in str(error.value)


SAVER = textwrap.dedent("""
    import sys
    import keras, numpy as np
    from utils.training.callbacks import EpochBackup
    model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(2048), keras.layers.Dense(512)])
    model.compile("adam", "mse")
    model.optimizer.build(model.trainable_variables)
    backup = EpochBackup(sys.argv[1])
    backup.set_model(model)
    for epoch in range(10_000):  # every weight of epoch e is e + 1: the restored file must match its record
        model.set_weights([np.full(w.shape, epoch + 1, w.dtype) for w in model.get_weights()])
        backup.on_epoch_end(epoch)
        print(epoch + 1, flush=True)
""")


@pytest.mark.timeout(120)
def test_a_process_killed_at_a_random_instant_while_saving_leaves_a_backup_of_its_stated_epoch(tmp_path):
    """SIGKILL cannot be held like Ctrl-C: about 11 MB of weights a save, killed at a random instant."""
    rng = kill_point()
    folder = tmp_path / "b"
    saver = start_code(SAVER, folder, stderr=None)
    try:
        assert saver.stdout.readline().strip() == "1", "the saver never finished an epoch"
        time.sleep(rng.uniform(0, 1.0))
    finally:
        os.kill(saver.pid, signal.SIGKILL)
        saver.wait()
    epoch, weights = backup_state(folder)
    record = json.loads((folder / "training_metadata.json").read_text())
    print(f"killed after epoch {epoch}; files left: {sorted(p.name for p in folder.iterdir())}")
    assert epoch >= 1 and weights.name == record["weights"] == f"epoch-{epoch}.weights.h5"
    model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(2048), keras.layers.Dense(512)])
    model.compile("adam", "mse")
    backup = EpochBackup(folder)
    backup.set_model(model)
    backup.on_train_begin()
    assert backup.restored_epoch == epoch
    assert all(np.all(w == epoch) for w in model.get_weights())


def test_the_best_checkpoint_stands_in_for_its_file_only_while_the_file_is_the_one_it_wrote(tmp_path):
    """trainer.finish scores the best epoch's model without loading it again when this process wrote it."""
    from utils.training.callbacks import BestCheckpoint, saved_best

    model, path = trained_model(), tmp_path / "best.keras"
    checkpoint = BestCheckpoint(path)
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_accuracy": 0.5})
    saved_weights = [w.copy() for w in model.get_weights()]
    model.fit(np.ones((8, 4)), np.zeros(8), epochs=1, verbose=0)  # trains on; the checkpoint keeps epoch 0
    checkpoint.on_epoch_end(1, {"val_accuracy": 0.4})  # no better: not saved
    best = saved_best(path)
    assert best is not model and getattr(best, "optimizer", None) is None
    assert all(np.array_equal(a, b) for a, b in zip(best.get_weights(), saved_weights, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(keras.models.load_model(path).get_weights(), saved_weights,
                                                    strict=True))
    assert saved_best(path) is None  # handed out once

    checkpoint.on_epoch_end(2, {"val_accuracy": 0.9})
    path.write_bytes(path.read_bytes())  # another file at the name now, the same bytes or not
    assert saved_best(path) is None
