import numpy as np
import pytest

from tests.frames_factory import write_frames_folder
from utils.data.frames_data import FramesData, open_frames
from utils.errors import InputError
from utils.training.input_pipeline import ClipReader, clip_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return open_frames(write_frames_folder(tmp_path_factory.mktemp("frames"), clips=2, shape=(16, 8, 8)))


class NoWholeArray:
    """Stands in for the memory map and fails if anything tries to read the array as a whole."""

    def __init__(self, frames):
        self.shape, self.dtype, self.offset = frames.shape, frames.dtype, frames.offset

    def __array__(self, *args, **kwargs):
        raise AssertionError("the pipeline read the whole frames array")

    def __getitem__(self, item):
        raise AssertionError("the pipeline indexed the memory map")


def test_reader_returns_the_clips_of_the_file_in_the_order_asked(data):
    reader = ClipReader(data)
    indices = np.array([5, 0, 17, 5])
    np.testing.assert_array_equal(reader.read(indices), np.asarray(data.frames)[indices])


def test_batches_hold_every_clip_once_with_its_label_and_never_touch_the_whole_array(data):
    guarded = FramesData(data.frames_path, NoWholeArray(data.frames), data.labels, data.paths, data.classes)
    indices = np.arange(3, 20)
    seen = []
    for clips, labels in clip_dataset(guarded, indices, batch_size=4, shuffle=True, seed=1):
        assert clips.dtype.name == "uint8" and clips.shape[1:] == (16, 8, 8, 3)
        for clip, label in zip(clips.numpy(), labels.numpy()):
            row = int(np.flatnonzero((np.asarray(data.frames) == clip).all(axis=(1, 2, 3, 4)))[0])
            assert data.labels[row] == label
            seen.append(row)
    assert sorted(seen) == list(indices)


def epoch_orders(dataset, epochs):
    return [np.concatenate([labels.numpy() for _, labels in dataset]).tolist() for _ in range(epochs)]


def test_shuffle_changes_every_epoch_and_repeats_for_the_same_seed(data):
    indices = np.arange(len(data.labels))
    first = epoch_orders(clip_dataset(data, indices, 5, shuffle=True, seed=3), 2)
    again = epoch_orders(clip_dataset(data, indices, 5, shuffle=True, seed=3), 2)
    assert first == again
    assert first[0] != first[1]
    fixed = epoch_orders(clip_dataset(data, indices, 5, shuffle=False), 1)[0]
    assert fixed == data.labels.tolist()


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda f: np.save(f / "labels.npy", np.zeros(3, np.int64)), "3 labels for 24 clips"),
        (lambda f: np.save(f / "labels.npy", np.full(24, 7)), "labels range 7..7"),
        (lambda f: np.save(f / "frames.npy", np.zeros((24, 16, 8, 8), np.uint8)), "expected uint8 clips"),
        (lambda f: np.save(f / "frames.npy", np.zeros((24, 16, 8, 8, 3), np.float32)), "expected uint8 clips"),
        (lambda f: (f / "frames.npy").unlink(), "frames file not found"),
        (lambda f: (f / "frames.npy").write_bytes(b"garbage"), "not a readable .npy file"),
    ],
)
def test_inconsistent_frames_folders_are_refused_with_the_file_named(tmp_path, damage, fragment):
    folder = write_frames_folder(tmp_path / "f", classes=("A", "B"), clips=3, shape=(16, 8, 8))
    damage(folder)
    with pytest.raises(InputError, match=fragment) as error:
        open_frames(folder)
    assert str(folder) in str(error.value)


def test_a_smaller_last_batch_does_not_trace_the_training_step_or_the_scoring_again(tmp_path):
    """Each epoch ends with a smaller batch (10 clips, batch 4); the step and the scoring are traced once for the
    whole run, not once more for that batch (about 1.4 s for the demo's student)."""
    import keras
    import tensorflow as tf

    from models.c3d import student_c3d
    from utils.training.input_pipeline import logits_over
    from utils.training.loop import epoch_loop
    from utils.training.trainer import compile_classifier

    data = open_frames(write_frames_folder(tmp_path / "frames", clips=2, shape=(16, 16, 16)))
    indices = np.arange(10)
    model = student_c3d(len(data.classes), data.clip_shape, width=0.125)
    compile_classifier(model, 1e-3, jit_compile=False)
    model.optimizer.build(model.trainable_variables)  # as before any run (trainer.train): made in a step, they
    # would trace it twice
    traced = {"train": 0, "network": 0}
    step, network = model.train_step, model.call

    def counting_step(batch):  # Python code in a traced function runs once per tracing
        traced["train"] += 1
        return step(batch)

    def counting_network(*args, **kwargs):
        traced["network"] += 1
        return network(*args, **kwargs)

    model.train_step, model.call = counting_step, counting_network
    batches = lambda context: clip_dataset(data, indices, 4, shuffle=True)  # noqa: E731
    epoch_loop(model, tf.distribute.get_strategy(), batches, clip_dataset(data, indices, 4, shuffle=False), 2, [])
    assert traced["train"] == 1
    scoring = traced["network"] - 1  # the training step's forward pass traced the network once
    assert scoring == 1  # the validation passes of both epochs
    logits = logits_over(model, clip_dataset(data, indices, 4, shuffle=False))
    assert logits.shape == (10, len(data.classes)) and traced["network"] == 3
    keras.backend.clear_session()
