"""funknn_book (the chapters' helpers): profiles, checkpoint resolution, results files, glue."""

import json
import math

import numpy as np
import pytest
import torch

from funknn_book import book

PROFILES = {"quick": dict(steps=600, lr=1e-3, scales=(2, 4, 8), train=False, name="photos",
                          vgg=None, gasp=dict(steps=10, hidden=(64, 64))),
            "paper": dict(steps=200_000, lr=1e-4, scales=(2, 4, 8), train=False, name="celeba",
                          vgg=None, gasp=dict(steps=100, hidden=(128, 128)))}


def test_settings_overrides_convert_and_copy():
    s = book.settings(PROFILES, "paper", steps="3", lr="0.5", scales=[2], train="true", name=None,
                      vgg="w.pt", **{"gasp.steps": 2.0, "gasp.hidden": (8, 8)})
    assert s["steps"] == 3 and s["lr"] == 0.5 and s["scales"] == (2,) and s["train"] is True
    assert s["name"] == "celeba" and s["vgg"] == "w.pt"
    assert s["gasp"] == {"steps": 2, "hidden": (8, 8)}
    assert PROFILES["paper"]["gasp"]["steps"] == 100       # the profiles are untouched
    assert book.settings(PROFILES, "quick", scales=4)["scales"] == (4,)


def test_settings_errors_name_the_problem():
    with pytest.raises(ValueError, match="profile must be one of"):
        book.settings(PROFILES, "fast")
    with pytest.raises(KeyError, match="no setting 'step'"):
        book.settings(PROFILES, "quick", step=3)
    with pytest.raises(KeyError, match="no group 'flow'"):
        book.settings(PROFILES, "quick", **{"flow.steps": 3})
    with pytest.raises(ValueError, match="steps='many'"):
        book.settings(PROFILES, "quick", steps="many")
    with pytest.raises(ValueError, match="train='maybe'"):
        book.settings(PROFILES, "quick", train="maybe")


def test_require():
    book.require("x", a=0, b="")
    with pytest.raises(ValueError, match="profile='paper' needs ood_dir"):
        book.require("profile='paper'", data_dir="d", ood_dir=None)


def test_checkpoint_path(tmp_path):
    assert book.checkpoint_path("m", train=True, checkpoint_dir=tmp_path) == tmp_path / "m.pt"
    assert book.checkpoint_path("m", train=True, build_dir=tmp_path) == tmp_path / "m.pt"
    assert book.checkpoint_path("m", checkpoint_dir=tmp_path) == tmp_path / "m.pt"
    shipped = book.checkpoint_path("m", shipped="photos_factor")
    assert shipped.name == "photos_factor.pt" and shipped.exists()
    with pytest.raises(ValueError, match="train=True or checkpoint_dir"):
        book.checkpoint_path("m")


def test_jsonable():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"×2": [1.23456, math.nan]}, index=["a", "b"])
    assert book.jsonable(df) == {"a": {"×2": 1.235}, "b": {"×2": None}}
    assert book.jsonable(torch.tensor([1.0, 2.0]).mean()) == 1.5
    assert book.jsonable(np.float32(0.5)) == 0.5 and book.jsonable(np.int64(3)) == 3
    assert book.jsonable({1: (float("inf"), True)}) == {"1": [None, True]}
    with pytest.raises(TypeError, match="object"):
        book.jsonable(object())


def test_results_file(tmp_path):
    r = book.Results("01_x", "quick", results_dir=tmp_path / "new")
    r.add(snr={"a": 1.23456}, digits=1)
    r.compare("Table 1", "SNR", paper=32.6, ours=np.float64(30.04), unit="dB")
    r.compare("Figure 7", "SI-SNR", paper=None, ours=None)
    r.finding("A", held=True)
    r.finding("B", held=False)
    r.finding("C", held=None, section="4")
    with pytest.raises(ValueError, match="findings"):
        r.add(findings=[])
    path = r.write()
    data = json.loads(path.read_text())
    assert path == tmp_path / "new" / "01_x.json" and data["notebook"] == "01_x"
    assert data["snr"] == {"a": 1.2}
    assert [c["paper"] for c in data["comparisons"]] == [32.6, None]
    assert [f["verdict"] for f in data["findings"]] == ["held", "not held", "not tested"]
    assert list(path.parent.iterdir()) == [path]            # no temporary file left behind


def test_glue_rounds_and_records():
    pytest.importorskip("myst_nb")
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        shown = []
        shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append((data, metadata))
        assert book.glue("ratio", 2.345678, digits=2) is None
        book.glue("verdict", "**held**")
        record = "application/papermill.record/"
        assert shown[0][0][record + "text/plain"] == "2.35" and shown[0][1]["scrapbook"]["name"] == "ratio"
        assert shown[1][0][record + "text/markdown"] == "**held**"
    finally:
        InteractiveShell.clear_instance()


def test_machine():
    assert book.machine().endswith(("CPU thread", "CPU threads")) or book.machine().startswith("an ")


def test_clock():
    clock = book.Clock()
    assert 0 <= clock.seconds() < 60 and clock.minutes() == pytest.approx(clock.seconds() / 60, abs=1e-3)


def test_compare_table_every_cell_once():
    pd = pytest.importorskip("pandas")
    r = book.Results("01_x", "quick", results_dir=".")
    ours = pd.DataFrame({"×2": [30.0, 29.0], "×4": [np.nan, 25.0]}, index=["unet", "mine"])
    paper = {"unet": (31.3, None), "liif": (31.6, 28.0)}
    book.compare_table(r, "Table 1", "SNR", paper, ours, ["×2", "×4"], unit="dB")
    got = [(c["quantity"], c["paper"], c["ours"], c["unit"]) for c in r.data["comparisons"]]
    assert got == [("SNR ×2, unet", 31.3, 30.0, "dB"), ("SNR ×2, mine", None, 29.0, "dB"),
                   ("SNR ×4, mine", None, 25.0, "dB"), ("SNR ×2, liif", 31.6, None, "dB"),
                   ("SNR ×4, liif", 28.0, None, "dB")]
    with pytest.raises(ValueError, match="2 columns"):
        book.compare_table(r, "Table 1", "SNR", {"unet": (1.0,)}, ours, ["×2", "×4"])


def test_provenance_and_training_minutes_from_paths_models_and_metas(tmp_path):
    import funknn

    model = funknn.build("funknn", in_channels=1, network="mlp")
    funknn.save(model, tmp_path / "m.pt", command="python -m funknn train x", steps=7, wall_seconds=120,
                hardware="2 CPU threads")
    loaded = funknn.load(tmp_path / "m.pt")
    text = book.provenance({"file": tmp_path / "m.pt", "model": loaded, "bare": {}})
    lines = text.splitlines()
    assert lines[0] == lines[1].replace("model:", "file:") == (
        "file: python -m funknn train x (7 steps, 120 s on 2 CPU threads)")
    assert lines[2].startswith("bare: no command recorded")
    checkpoints = {"a": str(tmp_path / "m.pt"), "b": loaded, "c": {"wall_seconds": None}}
    assert book.training_minutes(checkpoints) == 4.0
    assert book.training_minutes([]) == 0


def test_load_checked(tmp_path):
    from funknn import save
    from funknn.models import FunkNN

    save(FunkNN(1, network="mlp", kernel="cubic_conv"), tmp_path / "f.pt")
    model = book.load_checked(tmp_path / "f.pt", FunkNN, device="cpu", kernel="cubic_conv")
    assert isinstance(model, FunkNN) and not model.training
    with pytest.raises(ValueError, match="holds a FunkNN, not a Linear"):
        book.load_checked(tmp_path / "f.pt", torch.nn.Linear)
    with pytest.raises(ValueError, match="this chapter needs kernel='bicubic'"):
        book.load_checked(tmp_path / "f.pt", FunkNN, kernel="bicubic")


def test_score_table():
    scores = {"x": torch.tensor([1.0, 4.0, 2.5]), "y": np.array([0.5, 0.25, 0.125])}
    table = book.score_table(scores, stats=("mean", "min"), first=True)
    assert list(table.columns) == ["mean", "min", "image 1", "image 2", "image 3"]
    assert list(table.index) == ["x", "y"] and table.loc["x", "mean"] == 2.5 and table.loc["y", "min"] == 0.12
    assert list(book.score_table(scores).columns)[-1] == "mean"
    with pytest.raises(ValueError, match="unknown statistic"):
        book.score_table(scores, stats=("std",))

def test_compare_images(tmp_path):
    r = book.Results("99_x", "quick", results_dir=tmp_path)
    book.compare_images(r, "Figure 8", "SNR", {"a": torch.tensor([1.0]), "b": [2.0, 4.0]},
                        {"a": [3.0, 5.0]}, unit="dB")
    rows = [(c["quantity"], c["paper"], c["ours"], c["unit"]) for c in r.data["comparisons"]]
    assert rows == [("SNR, test image 1: a", 3.0, 1.0, "dB"), ("SNR, test image 2: a", 5.0, None, "dB"),
                    ("SNR, mean of the test images: a", 4.0, 1.0, "dB"),
                    ("SNR, mean of the test images: b", None, 3.0, "dB")]


def _write_chapter(folder, name, comparisons=(), findings=()):
    r = book.Results(name, "quick", results_dir=folder)
    r.add(test_images=2)
    for source, quantity, paper, ours, unit in comparisons:
        r.compare(source, quantity, paper=paper, ours=ours, unit=unit)
    for claim, held in findings:
        r.finding(claim, held=held, measured="m", paper="p", section="5.1")
    return r.write()


def test_read_results_current_old_missing_and_broken(tmp_path):
    _write_chapter(tmp_path, "01_a", [("Table 1", "SNR ×2", 32.6, 30.1, "dB")], [("f1", True), ("f2", None)])
    (tmp_path / "02_old.json").write_text(json.dumps(
        {"notebook": "02_old", "profile": "quick", "snr": {"x": 1.0}, "findings": {"old claim": False}}))
    (tmp_path / "04_broken.json").write_text("{not json")
    (tmp_path / "05_bad.json").write_text(json.dumps({"findings": [{"finding": "f", "verdict": "maybe"}]}))
    chapters = book.read_results(tmp_path, expected=["01_a", "03_missing"])
    assert [(c.notebook, c.status) for c in chapters] == [
        ("01_a", "ran"), ("02_old", "ran"), ("03_missing", "not run"), ("04_broken", "unreadable"),
        ("05_bad", "unreadable")]
    a, old, missing, broken, bad = chapters
    assert a.profile == "quick" and a.headline == {"test_images": 2} and a.label == "Chapter 1"
    assert a.comparisons[0] == {"source": "Table 1", "quantity": "SNR ×2", "paper": 32.6, "ours": 30.1,
                                "unit": "dB", "note": ""}
    assert [f["verdict"] for f in a.findings] == ["held", "not tested"]
    assert old.comparisons == [] and old.findings == [
        {"finding": "old claim", "verdict": "not held", "measured": "", "paper": "", "section": ""}]
    assert old.headline == {"snr": {"x": 1.0}}
    assert missing.profile is None and missing.comparisons == [] and missing.findings == []
    assert "JSONDecodeError" in broken.error and "maybe" in bad.error
    assert book.read_results(tmp_path / "nowhere", expected=["01_a"])[0].status == "not run"
    assert book.ChapterResults("glance", "ran").label == "glance"
    with pytest.raises(ValueError, match="status must be one of"):
        book.ChapterResults("x", "done")


def test_gap_difference_in_db_ratio_otherwise():
    assert book.gap(32.6, 30.1, "dB") == "-2.50 dB" and book.gap(9.0, 11.8, " DB ") == "+2.80 dB"
    assert book.gap(1.97, 0.985, "s") == "×0.50" and book.gap(0, 1.0) == ""
    assert book.gap(None, 1.0, "dB") == book.gap(1.0, None) == book.gap("140K", 1.0) == ""
    assert book.gap(True, 1.0) == ""


def test_comparison_rows_group_by_prefix_in_order(tmp_path):
    _write_chapter(tmp_path, "01_a", [("Table 1", "SNR ×2", 32.6, 30.1, "dB"),
                                      ("Table 12", "not Table 1", 1.0, 1.0, ""),
                                      ("Section 5.1 (speed)", "time", 0.7, 0.35, "s")])
    _write_chapter(tmp_path, "03_c", [("appendix e", "SNR image", 72.1, 70.0, "dB"),
                                      ("Table 1, OOD", "SNR OOD", 26.6, None, "dB")])
    chapters = book.read_results(tmp_path)
    groups = {"Table 1": ["Table 1"], "Table 2": ["Table 2"], "Section 5.1": ["Section 5.1"],
              "Figure 13": ["Figure 13", "Appendix E"]}
    rows = book.comparison_rows(chapters, groups)
    assert list(rows) == ["Table 1", "Table 2", "Section 5.1", "Figure 13", "other"]
    assert [(r["quantity"], r["label"], r["gap"]) for r in rows["Table 1"]] == [
        ("SNR ×2", "Chapter 1", "-2.50 dB"), ("SNR OOD", "Chapter 3", "")]
    assert rows["Table 2"] == [] and [r["quantity"] for r in rows["other"]] == ["not Table 1"]
    assert rows["Section 5.1"][0]["gap"] == "×0.50" and rows["Figure 13"][0]["chapter"] == "03_c"
    assert list(book.comparison_rows(chapters)) == [
        "Table 1", "Table 12", "Section 5.1 (speed)", "appendix e", "Table 1, OOD"]
    assert "other" not in book.comparison_rows(chapters, {"all": ["Table", "Section", "Appendix"]})


def test_finding_rows_and_verdict_counts(tmp_path):
    _write_chapter(tmp_path, "01_a", findings=[("f1", True), ("f2", False), ("f3", True)])
    _write_chapter(tmp_path, "02_b", findings=[("g1", None)])
    chapters = book.read_results(tmp_path, expected=["03_c"])
    assert [(r["label"], r["finding"], r["verdict"]) for r in book.finding_rows(chapters)] == [
        ("Chapter 1", "f1", "held"), ("Chapter 1", "f2", "not held"), ("Chapter 1", "f3", "held"),
        ("Chapter 2", "g1", "not tested")]
    assert book.verdict_counts(chapters) == {"held": 2, "not held": 1, "inconclusive": 0, "not tested": 1}
    assert book.verdict_counts([]) == {"held": 0, "not held": 0, "inconclusive": 0, "not tested": 0}
