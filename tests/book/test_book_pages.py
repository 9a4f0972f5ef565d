"""The book's build steps outside the notebooks: papermill's injected parameters kept out of the
pages (book/hide_injected.py) and the live zoom page's assets (book/prepare_zoom.py)."""

import sys
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import hide_injected  # noqa: E402
import prepare_zoom  # noqa: E402


def test_injected_parameters_cell_is_removed_from_the_page(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('results_dir = "../_build/results"',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell('results_dir = "/work/x/_build/results"',
                                          metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_markdown_cell("# Title")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert hide_injected.hide_injected(path) == 1
    assert hide_injected.hide_injected(path) == 1          # once only
    cells = nbformat.read(path, as_version=4).cells
    tags = [c.metadata.get("tags") for c in cells]
    assert tags == [["parameters"], ["injected-parameters", "remove-cell"], None]
    assert hide_injected.main([]) == 2


def test_zoom_images_round_trip(tmp_path):
    images = prepare_zoom.write_images(tmp_path)
    assert [e["id"] for e in images] == ["chelsea", "coffee", "camera"]
    for entry in images:
        assert min(entry["height"], entry["width"]) == prepare_zoom.LOW_SIDE and entry["channels"] == 3
        image = prepare_zoom.read_image(tmp_path / entry["file"], 3, entry["height"], entry["width"])
        assert image.shape == (1, 3, entry["height"], entry["width"]) and image.dtype == torch.float32
        assert torch.equal(torch.round(image * 255) / 255, image)    # exactly 8-bit values


def test_zoom_needs_npm_ci(tmp_path):
    with pytest.raises(FileNotFoundError, match="npm ci"):
        prepare_zoom.copy_ort(tmp_path / "node_modules", tmp_path / "out")
