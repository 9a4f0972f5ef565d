"""The "Results at a glance" page (notebooks/results_at_a_glance.ipynb) on fabricated results files:
the current schema, the old one (no comparisons; findings as {claim: bool}), a missing chapter and a
broken file. It only reads files, so it takes seconds."""

import json
import re
from pathlib import Path

import pytest

from funknn_book import book

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "notebooks" / "results_at_a_glance.ipynb"


def fabricate(folder):
    r = book.Results("01_super_resolution", "quick", folder)
    r.compare("Table 1", "SNR ×2, FunkNN (factor)", paper=32.6, ours=30.12, unit="dB")
    r.compare("Table 1", "trainable parameters, FunkNN (factor)", paper="140K", ours=140_123)
    r.compare("Table 2", "SI-SNR ×2, FunkNN (factor)", paper=32.6, ours=30.5, unit="dB")
    r.compare("Section 5.1 (speed)", "FunkNN time over LIIF-EDSR's", paper=0.355, ours=0.5)
    r.compare("ours", "bicubic ×2", paper=None, ours=29.0, unit="dB")
    r.finding("FunkNN (factor) above bilinear at every scale", held=True, measured="+2.1 dB", section="5.1")
    r.finding("FunkNN faster than LIIF on an A100", held=None, section="5.1")
    r.write()
    r = book.Results("03_derivatives", "quick", folder)
    r.compare("Appendix E", "SNR of the Laplacian", paper=18.1, ours=15.0, unit="dB")
    r.finding("the Laplacian of FunkNN close to the true one", held=False, measured="15 dB")
    r.write()
    (folder / "02_out_of_distribution.json").write_text(json.dumps(
        {"notebook": "02_out_of_distribution", "profile": "quick", "ood_snr": {"Bilinear": 20.0}}))
    (folder / "07_paper_scale.json").write_text(json.dumps(
        {"notebook": "07_paper_scale", "profile": "paper", "findings": {"an old finding": True}}))
    (folder / "05_inverse_derivatives.json").write_text("{half a file")


def run_page(tmp_path, results_dir):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "glance.ipynb"
    papermill.execute_notebook(str(PAGE), str(out), cwd=str(PAGE.parent), kernel_name="python3",
                               progress_bar=False, parameters=dict(results_dir=str(results_dir)))
    return json.loads(out.read_text())


def glued(nb):
    record = "application/papermill.record/text/plain"
    return {o["metadata"]["scrapbook"]["name"]: json.loads(o["data"][record])
            for c in nb["cells"] for o in c.get("outputs", []) if record in o.get("data", {})}


def text(nb):
    return "\n".join("".join(o.get("data", {}).get("text/plain", "")) + "".join(o.get("data", {}).get(
        "text/markdown", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_glance_page_on_fabricated_results(tmp_path):
    fabricate(tmp_path)
    nb = run_page(tmp_path, tmp_path)
    assert glued(nb) == {"n_chapters": 7, "n_chapters_compared": 2, "n_comparisons": 5, "n_items": 14,
                         "n_items_tested": 4, "n_findings": 4, "n_held": 2, "n_not_held": 1,
                         "n_inconclusive": 0, "n_not_tested": 1}
    shown = text(nb)
    assert "not run" in shown and "unreadable (JSONDecodeError" in shown
    assert "no comparisons recorded" in shown and "ran, profile 'paper' (this page: 'quick')" in shown
    assert "140,123" in shown and "-2.48 dB" in shown and "×1.41" in shown and "-3.10 dB" in shown
    assert "*No chapter recorded numbers of Figure 7 in this build.*" in shown
    assert "bicubic ×2" in shown                                   # "other" numbers are shown too
    assert "an old finding" in shown and "FunkNN faster than LIIF on an A100" in shown
    assert sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", [])) == 1


def test_glance_page_without_any_results(tmp_path):
    nb = run_page(tmp_path, tmp_path / "nothing")
    assert glued(nb)["n_comparisons"] == 0 and glued(nb)["n_findings"] == 0
    assert text(nb).count("results file not run in this build") == 7


def test_glance_page_knows_every_chapter_and_links_to_existing_ones():
    nb = json.loads(PAGE.read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"])
    chapters = sorted(p.stem for p in PAGE.parent.glob("[0-9][0-9]_*.ipynb"))
    listed = re.search(r"CHAPTERS = \[(.*?)\]", source, re.S)
    assert listed and re.findall(r'"(\w+)"', listed.group(1)) == chapters
    links = set(re.findall(r"\]\(([\w.]+\.ipynb)\)", source))
    assert links and all((PAGE.parent / link).is_file() for link in links)
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    assert "parameters" in nb["cells"][1]["metadata"]["tags"]
