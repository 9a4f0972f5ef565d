"""Fixtures of the data tests: tiny photo folders and LoDoPaB-CT files."""

import numpy as np
import pytest
from PIL import Image


def _photo_folder(folder, count=4):
    """Tiny PNG and JPEG files of different sizes and modes (one grey)."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    shapes = [(40, 30, 3), (25, 50, 3), (33, 33), (20, 24, 3), (31, 27, 3)]
    for i in range(count):
        array = rng.integers(0, 256, shapes[i % len(shapes)], dtype=np.uint8)
        Image.fromarray(array).save(folder / f"{i:05d}.{'jpg' if i % 2 else 'png'}")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _lodopab_folder(folder):
    import h5py

    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    for k, n in enumerate([3, 2]):
        with h5py.File(folder / f"ground_truth_train_00{k}.hdf5", "w") as h:
            h["data"] = rng.random((n, 21, 21)).astype(np.float32) * (k + 1)
    return folder


@pytest.fixture
def photo_folder():
    """``photo_folder(folder, count=4)`` writes ``count`` tiny images (and a text file) into ``folder``."""
    return _photo_folder


@pytest.fixture
def lodopab_folder():
    """``lodopab_folder(folder)`` writes ground-truth files of 3 and 2 slices (21²) into ``folder``."""
    return _lodopab_folder
