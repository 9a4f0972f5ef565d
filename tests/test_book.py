"""funknn.book: profiles, checkpoint resolution, results files, glue."""

import json
import math

import numpy as np
import pytest
import torch

from funknn import book

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
        assert book.glue("ratio", 2.345678, digits=2) == 2.35
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


# --- additions for chapters 1 and 2 ---

# --- additions for chapters 3 and 4 ---

# --- additions for chapters 5 and 6 ---

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

# --- additions for the results at a glance ---
