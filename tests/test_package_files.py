"""The package as a public artifact: LICENSE and CITATION.cff agree with pyproject.toml and the
package version."""

import tomllib
from pathlib import Path

import yaml

import funknn

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_the_declared_mit():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the funknn developers" in text


def test_citation_cites_the_package_and_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["version"] == funknn.__version__ and cff["license"] == "MIT"
    paper = cff["preferred-citation"]
    assert paper["title"] == "FunkNN: Neural Interpolation for Functional Generation"
    assert paper["year"] == 2023 and paper["type"] == "conference-paper"
    authors = [a["family-names"] for a in paper["authors"]]
    assert authors == ["Khorashadizadeh", "Chaman", "Debarnot", "Dokmanić"]
