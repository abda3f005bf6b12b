import io
import os

import numpy as np
import pytest

from utils.data.npy_stream import HEADER_BYTES, ClipArrayWriter, npy_header, write_clip


def test_header_is_a_valid_npy_header_of_fixed_size():
    header = npy_header((123456789, 16, 224, 224, 3))
    assert len(header) == HEADER_BYTES
    stream = io.BytesIO(header)
    assert np.lib.format.read_magic(stream) == (1, 0)
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    assert (shape, fortran, dtype) == ((123456789, 16, 224, 224, 3), False, np.dtype(np.uint8))


def test_clips_written_out_of_order_with_gaps_are_compacted_in_order(tmp_path):
    final = tmp_path / "frames.npy"
    clips = np.random.default_rng(0).integers(0, 256, size=(6, 2, 3, 4, 3), dtype=np.uint8)
    writer = ClipArrayWriter(final, capacity=6, clip_shape=(2, 3, 4, 3))
    assert not final.exists()
    fd = os.open(writer.temporary_path, os.O_WRONLY)
    for slot in (5, 0, 3, 2):  # any order; slots 1 and 4 are videos that were skipped
        write_clip(fd, slot, clips[slot])
    os.close(fd)
    writer.finish([0, 2, 3, 5])
    assert not writer.temporary_path.exists()
    loaded = np.load(final, mmap_mode="r")
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, clips[[0, 2, 3, 5]])
    assert os.path.getsize(final) == HEADER_BYTES + 4 * clips[0].size


def test_abort_leaves_no_file_and_keeps_a_previous_complete_one(tmp_path):
    final = tmp_path / "frames.npy"
    np.save(final, np.zeros((1, 1, 1, 1, 3), np.uint8))
    before = final.read_bytes()
    writer = ClipArrayWriter(final, capacity=3, clip_shape=(1, 1, 1, 3))
    writer.abort()
    assert not writer.temporary_path.exists()
    assert final.read_bytes() == before


def test_too_large_shape_is_refused():
    with pytest.raises(ValueError):
        npy_header(tuple([10**12] * 9))
