"""Batches of uint8 clips streamed from frames.npy with tf.data, for training and evaluation.

Clips are read with ``os.preadv`` at their offsets in the .npy file, straight into the batch
buffer. Reading through the memory map would work too, but every page it touches counts towards
this process's resident memory until the kernel reclaims it, so peak RSS would grow with the
dataset; plain reads leave those pages to the page cache, and RSS stays at a few batches whatever
the size of frames.npy. Batches are gathered by a parallel ``tf.data`` map (the reads release the
GIL), shuffled per epoch from a seed, and prefetched, so the model never waits on disk.
"""

from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf

from models.distiller import FRAMES_KEY, TEACHER_LOGITS_KEY
from utils.data.frames_data import FramesData
from utils.machine import available_cores


class ClipReader:
    """Random access to the clips of a frames.npy file without mapping it into memory."""

    def __init__(self, data: FramesData):
        self.path = data.frames_path
        self.clip_shape = data.clip_shape
        self.clip_bytes = math.prod(self.clip_shape)
        self.offset = int(data.frames.offset)  # where the array starts, after the .npy header
        self._fd = os.open(self.path, os.O_RDONLY)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """The clips at ``indices`` as one uint8 array, in the order given."""
        batch = np.empty((len(indices), *self.clip_shape), dtype=np.uint8)
        for row, index in enumerate(indices):
            view = memoryview(batch[row].reshape(-1))
            position = self.offset + int(index) * self.clip_bytes
            while view.nbytes:
                count = os.preadv(self._fd, [view], position)
                if count == 0:
                    raise OSError(f"{self.path}: file ends before clip {index}")
                view, position = view[count:], position + count
        return batch

    def close(self) -> None:
        os.close(self._fd)

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass


def clip_dataset(
    data: FramesData,
    indices: np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    repeat: bool = False,
    reader: ClipReader | None = None,
    teacher_logits: np.ndarray | None = None,
    share: tuple[int, int, int] | None = None,
) -> tf.data.Dataset:
    """(uint8 clips B×T×H×W×3, int64 labels B) batches of the clips at ``indices``.

    With ``shuffle`` the order changes every epoch (each new iteration) but is a fixed sequence
    for a given seed. The last batch may be smaller. With ``teacher_logits`` (one row per clip of
    frames.npy, as utils/training/teacher_cache.py stores them) the inputs become
    ``{"frames": clips, "teacher_logits": rows}``, what models.distiller.Distiller reads.

    ``share`` = (first replica, replicas, all replicas) makes this the input of some replicas of a
    tf.distribute run: every worker draws the same global batches of ``batch_size`` (same seed),
    and yields, for each, the per-replica slices of its own replicas one after the other, read
    from disk only for those clips. Incomplete last batches are dropped (replicas need equal shares).
    """
    reader = reader or ClipReader(data)
    labels = data.labels
    indices = np.asarray(indices, dtype=np.int64)

    def gather(batch_indices: np.ndarray):
        order = np.argsort(batch_indices, kind="stable")  # read in file order: kinder to the disk
        ordered = batch_indices[order]
        parts = [reader.read(ordered), labels[ordered]]
        if teacher_logits is not None:
            parts.append(teacher_logits[ordered].astype(np.float32))
        return tuple(parts)

    def load(batch_indices):
        types = (tf.uint8, tf.int64) + ((tf.float32,) if teacher_logits is not None else ())
        parts = tf.numpy_function(gather, [batch_indices], types, stateful=False)
        clips, batch_labels = parts[0], parts[1]
        clips.set_shape((None, *data.clip_shape))
        batch_labels.set_shape((None,))
        if teacher_logits is None:
            return clips, batch_labels
        parts[2].set_shape((None, teacher_logits.shape[1]))
        return {FRAMES_KEY: clips, TEACHER_LOGITS_KEY: parts[2]}, batch_labels

    parallel = max(2, available_cores())
    dataset = batched_indices(indices, batch_size, shuffle, seed, repeat, share)
    # AutoGraph off here and in the functions of models below: they have no Python control flow on tensors to
    # convert, and converting them cost 0.2-0.3 s in a process's first training (docs/testing.md)
    load = tf.autograph.experimental.do_not_convert(load)
    return with_fixed_parallelism(dataset.map(load, num_parallel_calls=parallel, deterministic=True), parallel)


def batched_indices(indices: np.ndarray, batch_size: int, shuffle: bool, seed: int, repeat: bool,
                    share: tuple[int, int, int] | None) -> tf.data.Dataset:
    """Batches of clip indices in clip_dataset's order, or this worker's replicas' slices of them."""
    dataset = tf.data.Dataset.from_tensor_slices(indices)
    if shuffle:
        dataset = dataset.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    if share is None or share[2] == 1:
        return dataset.batch(batch_size)
    first, replicas, total = share
    per_replica = batch_size // total
    return dataset.batch(batch_size, drop_remainder=True).map(tf.autograph.experimental.do_not_convert(
        lambda batch: tf.reshape(batch[first * per_replica:(first + replicas) * per_replica],
                                 (replicas, per_replica)))).unbatch()


def with_fixed_parallelism(dataset: tf.data.Dataset, parallel: int) -> tf.data.Dataset:
    """Fixed parallelism instead of tf.data's autotuning: its model thread makes the destruction of a
    finished iterator wait for up to ~5 s, and a run ends two iterators an epoch (training and
    validation); that wait was a third of the demo teacher's epoch time (docs/performance.md)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF  # sharded above
    options.autotune.enabled = False
    return dataset.with_options(options).prefetch(parallel)


def predict_logits(model, data: FramesData, indices: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(logits N×K float32, labels N) of the clips at sorted ``indices``, streamed in batches."""
    indices = np.asarray(indices, np.int64)
    if np.any(np.diff(indices) < 0):
        raise ValueError("indices must be sorted: batches are read in file order")
    return logits_over(model, clip_dataset(data, indices, batch_size, shuffle=False)), data.labels[indices]


def clips_spec(dataset: tf.data.Dataset) -> tf.TensorSpec:
    """The clips of a clip_dataset's batches, any batch size: the signature that traces a function of them once
    (the last batch is usually smaller, and would trace it again)."""
    inputs = dataset.element_spec[0]
    return inputs[FRAMES_KEY] if isinstance(inputs, dict) else inputs


def logits_over(model, dataset) -> np.ndarray:
    """Float32 logits of every clip of a (clips, labels) dataset, in order: a compiled call per batch
    rather than Model.predict, which Keras 3.15 cannot run under MultiWorkerMirroredStrategy."""
    call = tf.function(lambda clips: tf.cast(model(clips, training=False), tf.float32), reduce_retracing=True,
                       autograph=False,
                       input_signature=[clips_spec(dataset)])
    return np.concatenate([call(clips).numpy() for clips, _ in dataset])
