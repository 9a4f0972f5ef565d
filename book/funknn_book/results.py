"""A chapter's results file, written and read: its headline numbers, the paper's numbers beside
ours and the paper's findings it tests, in ``_build/results/<chapter>.json``, from which the book's
"Results at a glance" is built. The schema lives here, on both sides."""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["VERDICTS", "verdict", "jsonable", "Results", "CHAPTER_STATUSES", "ChapterResults", "read_results"]

#: the verdicts a finding of the paper gets in a results file: the first three are
#: :func:`funknn.stats.decide`'s (from an interval), the last for a claim this run cannot test
VERDICTS = ("held", "not held", "inconclusive", "not tested")

def jsonable(value: Any, digits: int = 3) -> Any:
    """``value`` as plain JSON: numbers rounded to ``digits`` decimals, NaN as ``None``.

    Tensors, NumPy arrays and scalars, pandas frames and series (as nested dictionaries keyed by
    row), tuples and paths are converted.

    >>> jsonable({"snr": (31.23456, float("nan")), "n": 3, "ok": True})
    {'snr': [31.235, None], 'n': 3, 'ok': True}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        x = float(value)
        return None if math.isnan(x) or math.isinf(x) else round(x, digits)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, digits) for k, v in value.items()}
    if hasattr(value, "to_dict") and hasattr(value, "index"):          # pandas
        return jsonable(value.to_dict("index") if hasattr(value, "columns") else value.to_dict(), digits)
    if hasattr(value, "tolist"):                                          # torch / numpy
        return jsonable(value.tolist(), digits)
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v, digits) for v in value]
    raise TypeError(f"cannot write {type(value).__name__} to a results file")


def verdict(held: bool | str | None) -> str:
    """``True`` → ``"held"``, ``False`` → ``"not held"``, ``None`` → ``"not tested"``; a verdict given
    as a string (``funknn.stats.decide``'s ``"inconclusive"``) is checked and kept.

    >>> verdict(True), verdict(None), verdict("inconclusive")
    ('held', 'not tested', 'inconclusive')
    """
    if isinstance(held, str):
        if held not in VERDICTS:
            raise ValueError(f"verdict {held!r} is not one of {VERDICTS}")
        return held
    return VERDICTS[3] if held is None else VERDICTS[0] if held else VERDICTS[1]


class Results:
    """A chapter's results file: headline numbers, the paper's numbers beside ours, findings.

    Args:
        chapter: the notebook's name, e.g. ``"01_super_resolution"`` (the file's name).
        profile: the profile the chapter ran.
        results_dir: the folder (the chapters' ``results_dir`` parameter).

    >>> r = Results("99_example", "quick", results_dir=tempfile.mkdtemp())
    >>> r.add(test_images=6, snr={"FunkNN": 30.12345})
    >>> r.compare("Table 1", "SNR ×2, FunkNN (factor)", paper=32.6, ours=30.12345, unit="dB")
    >>> r.finding("FunkNN above bilinear at ×2", held=True, measured="+2.1 dB", paper="+5.1 dB",
    ...           section="5.1")
    >>> data = json.loads(r.write().read_text())
    >>> data["snr"], data["comparisons"][0]["ours"], data["findings"][0]["verdict"]
    ({'FunkNN': 30.123}, 30.123, 'held')
    """

    def __init__(self, chapter: str, profile: str, results_dir: str | Path = "../_build/results") -> None:
        self.path = Path(results_dir) / f"{chapter}.json"
        self.data: dict[str, Any] = {"notebook": chapter, "profile": profile, "comparisons": [],
                                     "findings": []}

    def add(self, digits: int = 3, **values: Any) -> None:
        """Headline numbers (rounded to ``digits`` decimals), settings, counts."""
        reserved = {"notebook", "profile", "comparisons", "findings"} & set(values)
        if reserved:
            raise ValueError(f"{sorted(reserved)} are written by Results itself")
        self.data.update(jsonable(values, digits))

    def compare(self, source: str, quantity: str, *, paper: float | str | None, ours: Any,
                unit: str = "", note: str = "", digits: int = 3) -> None:
        """One number of the paper (``source``: "Table 1", "Figure 8", "Section 5.1") beside ours.

        ``paper=None`` when the paper has no such number (a row of ours alone); ``ours=None`` when
        this chapter does not measure it.
        """
        self.data["comparisons"].append({"source": source, "quantity": quantity,
                                         "paper": jsonable(paper, digits), "ours": jsonable(ours, digits),
                                         "unit": unit, "note": note})

    def finding(self, claim: str, *, held: bool | str | None, measured: str = "", paper: str = "",
                section: str = "", interval: Any = None, rule: str = "") -> None:
        """One of the paper's findings and what this run says about it.

        Args:
            held: the verdict: a string of :data:`VERDICTS` (``funknn.stats.decide(interval, ...)``),
                or ``True`` / ``False`` for a claim without an interval, ``None``: not tested.
            interval: the ``funknn.stats.Interval`` the verdict was decided on (written with its
                counts of seeds and images), if any.
            rule: the decision rule in words (e.g. "95% interval of FunkNN − LIIF above −0.5 dB").
        """
        row = {"finding": claim, "verdict": verdict(held), "measured": measured, "paper": paper,
               "section": section}
        if interval is not None:
            row["interval"] = interval.as_dict()
            row["counts"] = interval.counts()
        if rule:
            row["rule"] = rule
        self.data["findings"].append(row)

    def write(self) -> Path:
        """Write the file atomically (a reader never sees half of it); return its path."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, self.path)
        return self.path


#: the states of a chapter's results file (read; not written yet, as the chapter was not run; broken)
CHAPTER_STATUSES = ("ran", "not run", "unreadable")


class ChapterResults:
    """What one chapter's results file holds, as :func:`read_results` found it.

    Attributes:
        notebook: the chapter's name (the file's stem), e.g. ``"01_super_resolution"``.
        status: ``"ran"``, ``"not run"`` (no file) or ``"unreadable"`` (not JSON, or not a results file).
        profile: the profile the chapter ran (``None`` unless it ran).
        comparisons: the paper's numbers beside ours (``[]`` in a file of the old schema).
        findings: the paper's findings and their verdicts; an old file's ``{claim: bool}`` is
            converted (``True`` → ``"held"``).
        headline: every other top-level key of the file (the chapter's own numbers).
        error: why the file is unreadable (``""`` otherwise).
    """

    def __init__(self, notebook: str, status: str, profile: str | None = None,
                 comparisons: list[dict[str, Any]] | None = None,
                 findings: list[dict[str, Any]] | None = None,
                 headline: dict[str, Any] | None = None, error: str = "") -> None:
        if status not in CHAPTER_STATUSES:
            raise ValueError(f"status must be one of {CHAPTER_STATUSES}, got {status!r}")
        self.notebook, self.status, self.profile, self.error = notebook, status, profile, error
        self.comparisons = comparisons or []
        self.findings = findings or []
        self.headline = headline or {}

    @property
    def number(self) -> str:
        """The chapter's number without leading zeros (``"01_super_resolution"`` → ``"1"``; else ``""``)."""
        prefix = self.notebook.split("_", 1)[0]
        return str(int(prefix)) if prefix.isdigit() else ""

    @property
    def label(self) -> str:
        """A short name for tables (``"Chapter 1"``, or the notebook's name when it has no number)."""
        return f"Chapter {self.number}" if self.number else self.notebook

    def __repr__(self) -> str:
        return (f"ChapterResults({self.notebook!r}, {self.status!r}, profile={self.profile!r}, "
                f"{len(self.comparisons)} comparisons, {len(self.findings)} findings)")


_COMPARISON_KEYS = ("source", "quantity", "paper", "ours", "unit", "note")
_FINDING_KEYS = ("finding", "verdict", "measured", "paper", "section")
_FINDING_OPTIONAL = ("interval", "counts", "rule")


def _findings(raw: Any) -> list[dict[str, Any]]:
    """A file's findings as the list of the current schema (an old file has ``{claim: bool}``)."""
    if isinstance(raw, Mapping):
        raw = [{"finding": claim, "verdict": verdict(None if held is None else bool(held))}
               for claim, held in raw.items()]
    if not isinstance(raw, list):
        raise ValueError(f"'findings' must be a list, got {type(raw).__name__}")
    out = []
    for item in raw:
        row = {key: item.get(key, "") for key in _FINDING_KEYS}
        row.update({key: item[key] for key in _FINDING_OPTIONAL if key in item})
        if row["verdict"] not in VERDICTS:
            raise ValueError(f"finding {row['finding']!r}: verdict {row['verdict']!r} is not one of "
                             f"{VERDICTS}")
        out.append(row)
    return out


def _chapter(path: Path) -> ChapterResults:
    """One results file, read; a file that is not a results file is ``"unreadable"``, with the reason."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"a results file holds a JSON object, not {type(data).__name__}")
        comparisons = data.get("comparisons", [])
        if not isinstance(comparisons, list):
            raise ValueError(f"'comparisons' must be a list, got {type(comparisons).__name__}")
        comparisons = [{key: item.get(key, "" if key in ("unit", "note") else None)
                        for key in _COMPARISON_KEYS} for item in comparisons]
        findings = _findings(data.get("findings", []))
    except (ValueError, AttributeError) as err:            # json.JSONDecodeError is a ValueError
        return ChapterResults(path.stem, "unreadable", error=f"{type(err).__name__}: {err}")
    headline = {k: v for k, v in data.items() if k not in ("notebook", "profile", "comparisons", "findings")}
    return ChapterResults(str(data.get("notebook", path.stem)), "ran", profile=data.get("profile"),
                          comparisons=comparisons, findings=findings, headline=headline)


def read_results(results_dir: str | Path, expected: list[str] | tuple[str, ...] = ()) -> list[ChapterResults]:
    """Every chapter's results file in ``results_dir`` (written by :class:`Results`), sorted by name.

    Args:
        results_dir: the folder of ``<chapter>.json`` files (``_build/results`` in the build).
        expected: chapters that should have a file; one without is listed as ``"not run"``
            (a missing folder lists every expected chapter so).

    Files of the old schema (no ``comparisons``; ``findings`` as ``{claim: bool}``) are read too.
    A file that is not JSON, or whose ``comparisons``/``findings`` do not follow the schema, is
    listed as ``"unreadable"`` with the reason, so that one broken chapter does not hide the others.

    >>> folder = Path(tempfile.mkdtemp())
    >>> r = Results("01_example", "quick", results_dir=folder)
    >>> r.compare("Table 1", "SNR ×2", paper=32.6, ours=30.1, unit="dB")
    >>> _ = r.write()
    >>> read_results(folder, expected=["01_example", "02_other"])
    [ChapterResults('01_example', 'ran', profile='quick', 1 comparisons, 0 findings), \
ChapterResults('02_other', 'not run', profile=None, 0 comparisons, 0 findings)]
    """
    folder = Path(results_dir)
    found = {p.stem: _chapter(p) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
    for name in expected:
        found.setdefault(name, ChapterResults(name, "not run"))
    return [found[name] for name in sorted(found)]
