"""The paper profile must not rot: run each notebook with profile="paper" on tiny fabricated
data for a couple of training steps (on the CPU)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fake_celeba(tmp_path_factory):
    folder = tmp_path_factory.mktemp("celeba_hq")
    rng = np.random.default_rng(0)
    for i in range(102):  # the paper's split keeps the last 100 for testing
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(folder / f"{i:05d}.png")
    return folder


@pytest.mark.slow
def test_01_super_resolution_paper_profile(tmp_path, fake_celeba):
    papermill = pytest.importorskip("papermill")
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "01_super_resolution.ipynb"), str(tmp_path / "out.ipynb"),
        cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False,
        parameters=dict(profile="paper", train=True, data_dir=str(fake_celeba), steps=2, n_test=1,
                        checkpoint=str(tmp_path / "paper.pt"), results_dir=str(tmp_path)))
    import json

    summary = json.loads((tmp_path / "01_super_resolution.json").read_text())
    assert summary["profile"] == "paper" and summary["low_size"] == 128
    assert summary["checkpoint_steps"] == 2 and summary["scales"] == [2, 4]
