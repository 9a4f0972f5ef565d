"""The golden file's check: a figure that moves beyond its tolerance fails, one within passes."""

import json

import pytest

from funknn_book import golden


def fabricate(folder, shift=0.0, profile="quick"):
    """Results files holding every pinned figure (value 20 + shift), its spread (0.05, or 1.0 for
    chapter 5's solver) and, for a pin of a mean over images, 4 test images."""
    files = {}
    for pin in golden.PINS:
        data = files.setdefault(pin.notebook, {"notebook": pin.notebook, "profile": profile})
        node = data
        for key in pin.path[:-1]:
            node = node.setdefault(key, {})
        node[pin.path[-1]] = 20.0 + shift
        if pin.images is not None:
            data[pin.images[0]] = 4
        if pin.spread is not None:
            source, path = pin.notebook, pin.spread
            if path[0].startswith("@"):
                source, path = path[0][1:], path[1:]
            node = files.setdefault(source, {"notebook": source, "profile": profile})
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = 1.0 if source == "05_inverse_derivatives" else 0.05
    for name, data in files.items():
        (folder / f"{name}.json").write_text(json.dumps(data))


def fabricated(tmp_path):
    """A run folder of fabricated results files (``fabricate``) and the golden file's path beside it."""
    run = tmp_path / "run"
    run.mkdir()
    fabricate(run)
    return run, tmp_path / "golden.json"


def test_refresh_then_check_passes_and_a_regression_fails(tmp_path, capsys):
    run, spec = fabricated(tmp_path)
    out = golden.refresh(run, spec, machine="test")
    assert len(out["pins"]) == len(golden.PINS)
    tolerances = {" / ".join(p["path"]): p["tolerance"] for p in out["pins"]}
    assert tolerances["si_snr_db / dense: FunkNN prior, + fine-tuning"] == 1.5       # 3 × the SD / √4 images
    assert tolerances["si_snr_db / dense: Poisson"] == 2.0                            # the pin's own floor
    assert tolerances["snr / FunkNN (single) / ×2"] == golden.FLOOR                  # 3 × 0.05 < the floor
    assert all(row["status"] == "ok" for row in golden.check(run, spec))
    assert golden.main(["check", str(run), "--golden", str(spec)]) == 0
    # a −1 dB regression everywhere: chapter 1's pins (tolerance 0.3) fail, chapter 5's (3 × 1.0 / √4) hold
    fabricate(run, shift=-1.0)
    status = {row["pin"]: row["status"] for row in golden.check(run, spec)}
    assert status["01_super_resolution: snr / FunkNN (single) / ×2"] == "moved"
    assert status["05_inverse_derivatives: si_snr_db / dense: FunkNN prior, + fine-tuning"] == "ok"
    # −3 dB moves chapter 5's too
    fabricate(run, shift=-3.0)
    status = {row["pin"]: row["status"] for row in golden.check(run, spec)}
    assert status["05_inverse_derivatives: si_snr_db / dense: FunkNN prior, + fine-tuning"] == "moved"
    assert golden.main(["check", str(run), "--golden", str(spec)]) == 1
    assert "make golden-refresh" in capsys.readouterr().err


def test_missing_files_fail_and_another_profile_is_skipped(tmp_path):
    run, spec = fabricated(tmp_path)
    golden.refresh(run, spec)
    (run / "04_generative_prior.json").unlink()
    rows = golden.check(run, spec)
    assert {r["status"] for r in rows if r["pin"].startswith("04_")} == {"missing"}
    fabricate(run, shift=-5.0, profile="paper")
    assert {r["status"] for r in golden.check(run, spec)} == {"skipped"}
    with pytest.raises(ValueError, match="profile 'paper'"):
        golden.refresh(run, spec)
    fabricate(run)
    (run / "06_limited_view_ct.json").unlink()
    with pytest.raises(FileNotFoundError, match="06_limited_view_ct.json"):
        golden.refresh(run, spec)


def test_a_spread_per_image_needs_the_number_of_images(tmp_path):
    run, spec = fabricated(tmp_path)
    data = json.loads((run / "06_limited_view_ct.json").read_text())
    del data["test_images"]
    (run / "06_limited_view_ct.json").write_text(json.dumps(data))
    with pytest.raises(KeyError, match="test_images"):
        golden.refresh(run, spec)


def test_refresh_of_one_chapter_keeps_the_other_pins(tmp_path):
    run, spec = fabricated(tmp_path)
    golden.refresh(run, spec, machine="first")
    fabricate(run, shift=-1.0)                      # every figure moved; only chapter 1's are taken
    out = golden.refresh(run, spec, machine="second", only=["01_super_resolution"])
    values = {(p["notebook"], " / ".join(p["path"])): p["value"] for p in out["pins"]}
    assert values["01_super_resolution", "snr / FunkNN (single) / ×2"] == 19.0
    assert values["05_inverse_derivatives", "si_snr_db / dense: Poisson"] == 20.0
    assert len(out["pins"]) == len(golden.PINS) and "second" in out["machine"] and "first" in out["machine"]
    with pytest.raises(ValueError, match="no pins of"):
        golden.refresh(run, spec, only=["99_nothing"])
