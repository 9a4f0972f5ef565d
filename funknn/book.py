"""What the book's chapters repeat: profiles, checkpoints, results files, numbers for the prose.

A chapter (a notebook of ``notebooks/``) picks a *profile* of settings (``"quick"``: embedded
data on a CPU; ``"paper"``: the paper's settings), lets papermill parameters override some of
them, finds the checkpoints it studies, and writes its headline numbers, the paper's numbers
beside them and the paper's findings it tests to ``_build/results/<chapter>.json``, from which
the book's "Results at a glance" is built. Plotting lives in :mod:`funknn.plotting`.

>>> PROFILES = {"quick": dict(steps=600, scales=(2, 4), gasp=dict(steps=10)),
...             "paper": dict(steps=200_000, scales=(2, 4, 8), gasp=dict(steps=100))}
>>> s = settings(PROFILES, "quick", steps="40", scales=[2], **{"gasp.steps": None})
>>> s["steps"], s["scales"], s["gasp"]["steps"]
(40, (2,), 10)
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .pretrained import pretrained_path

__all__ = ["settings", "require", "checkpoint_path", "Results", "jsonable", "glue", "Clock", "VERDICTS",
           "verdict", "machine", "compare_table", "training_meta", "provenance", "training_minutes",
           "load_checked", "score_table", "compare_images", "CHAPTER_STATUSES", "ChapterResults",
           "read_results", "gap", "comparison_rows", "finding_rows", "verdict_counts"]

#: the three verdicts a finding of the paper gets in a results file
VERDICTS = ("held", "not held", "not tested")


def _cast(value: Any, default: Any, key: str) -> Any:
    """``value`` converted to the type of the profile's ``default`` (papermill passes strings, lists)."""
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            items = [value] if isinstance(value, (int, float, str)) else list(value)
            kind = type(default[0]) if default else None
            return tuple(kind(v) if kind in (int, float) else v for v in items)
    except (TypeError, ValueError) as err:
        raise ValueError(f"override {key}={value!r} does not fit the setting's type "
                         f"{type(default).__name__} (default {default!r})") from err
    return value


def settings(profiles: Mapping[str, Mapping[str, Any]], profile: str, **overrides: Any) -> dict[str, Any]:
    """The settings of ``profile`` with the overrides that are not ``None`` applied.

    Args:
        profiles: ``{profile name: {setting: default}}``; nested dictionaries allowed.
        profile: the chosen profile (a chapter's papermill parameter).
        **overrides: ``setting=value``; ``None`` keeps the profile's value (papermill's "not
            given"). A nested setting is named with dots: ``**{"gasp.steps": 100}``. The value is
            converted to the default's type (``"40"`` → 40 for an int, ``[2]`` → ``(2,)`` for a tuple).

    Returns:
        A deep copy of the profile's settings (changing it leaves ``profiles`` alone).

    Raises:
        ValueError: an unknown profile, or a value that does not convert.
        KeyError: an override naming a setting the profile does not have.
    """
    if profile not in profiles:
        raise ValueError(f"profile must be one of {list(profiles)}, got {profile!r}")
    out = copy.deepcopy(dict(profiles[profile]))
    for key, value in overrides.items():
        if value is None:
            continue
        *parents, last = key.split(".")
        node = out
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise KeyError(f"override {key!r}: profile {profile!r} has no group {part!r}")
            node = node[part]
        if last not in node:
            raise KeyError(f"override {key!r}: profile {profile!r} has no setting {last!r} "
                           f"(it has {sorted(node)})")
        node[last] = _cast(value, node[last], key) if node[last] is not None else value
    return out


def require(what: str, **values: Any) -> None:
    """Raise a clear error when a setting that ``what`` needs was not given.

    >>> require("profile='paper'", data_dir="/data/celeba")
    >>> require("profile='paper'", data_dir=None, ood_dir=None)
    Traceback (most recent call last):
    ...
    ValueError: profile='paper' needs data_dir, ood_dir (see data/README.md for the data sets)
    """
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"{what} needs {', '.join(missing)} (see data/README.md for the data sets)")


def checkpoint_path(stem: str, *, train: bool = False, checkpoint_dir: str | Path | None = None,
                    shipped: str | None = None, build_dir: str | Path = "../_build/checkpoints") -> Path:
    """Where a chapter's model ``stem`` is written (``train=True``) or read from.

    Args:
        stem: file name without ``.pt`` inside ``checkpoint_dir`` / ``build_dir``.
        train: the chapter trains the model: the path to write, in ``checkpoint_dir`` or else
            ``build_dir``.
        checkpoint_dir: a folder of checkpoints the user trained (read, or written with ``train``).
        shipped: the name of the shipped checkpoint to read otherwise (``None``: there is none,
            e.g. in the paper profile).

    Raises:
        ValueError: nothing to read: no shipped checkpoint and neither ``train`` nor ``checkpoint_dir``.

    >>> checkpoint_path("paper_funknn", train=True)
    PosixPath('../_build/checkpoints/paper_funknn.pt')
    >>> checkpoint_path("x", checkpoint_dir="runs")
    PosixPath('runs/x.pt')
    """
    if train or checkpoint_dir is not None:
        return Path(checkpoint_dir if checkpoint_dir is not None else build_dir) / f"{stem}.pt"
    if shipped is None:
        raise ValueError(f"no shipped checkpoint for {stem!r} in this profile: pass train=True or "
                         "checkpoint_dir=... (a folder of checkpoints you trained)")
    return pretrained_path(shipped)


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


def verdict(held: bool | None) -> str:
    """``True`` → ``"held"``, ``False`` → ``"not held"``, ``None`` → ``"not tested"``."""
    return VERDICTS[2] if held is None else VERDICTS[0] if held else VERDICTS[1]


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

    def finding(self, claim: str, *, held: bool | None, measured: str = "", paper: str = "",
                section: str = "") -> None:
        """One of the paper's findings and what this run says about it (``held=None``: not tested)."""
        self.data["findings"].append({"finding": claim, "verdict": verdict(held), "measured": measured,
                                      "paper": paper, "section": section})

    def write(self) -> Path:
        """Write the file atomically (a reader never sees half of it); return its path."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(self.data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, self.path)
        return self.path


def glue(name: str, value: Any, digits: int | None = None) -> None:
    """Make ``value`` available to the chapter's prose as ``{glue:text}`name``` (myst-nb).

    Numbers are rounded to ``digits`` decimals first, so that the notebook's stored output is
    as stable as the tables (nbval compares it). Strings are glued as Markdown: use
    ``{glue:md}`name``` for them. Returns ``None``, so that a cell ending with a call shows
    nothing (nbval runs cells without history, where a trailing ``;`` hides nothing).
    """
    from IPython.display import Markdown
    from myst_nb import glue as myst_glue

    if digits is not None:
        value = round(float(value), digits)
    myst_glue(name, Markdown(value) if isinstance(value, str) else value, display=False)


def machine() -> str:
    """The hardware a chapter ran on, in words: ``"1 CPU thread"``, ``"an NVIDIA H200"``."""
    import torch

    if torch.cuda.is_available():
        return f"an {torch.cuda.get_device_name(0)}"
    n = torch.get_num_threads()
    return f"{n} CPU thread{'s' if n > 1 else ''}"


class Clock:
    """Wall-clock time of a chapter's run, for the "time to run" line at its top.

    >>> clock = Clock()
    >>> clock.minutes() >= 0
    True
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def minutes(self) -> float:
        return self.seconds() / 60


def compare_table(results: Results, source: str, metric: str, paper: Mapping[str, Any], ours: Any,
                  columns: Any, unit: str = "", note: str = "", digits: int = 3) -> None:
    """Every cell of one of the paper's tables beside ours: a :meth:`Results.compare` per row and column.

    Args:
        results: the chapter's results file.
        source: the paper's table, e.g. ``"Table 1"``.
        metric: the quantity's name; each entry is ``"<metric> <column>, <row>"``.
        paper: ``{row: values in the order of columns}`` (``None`` for a cell the paper lacks).
        ours: a pandas frame indexed by row with the columns (NaN: not measured). Its rows are
            written in its order (a row the paper lacks gets ``paper=None``), then the paper's
            rows it lacks (``ours=None``). A cell neither has is left out.
        columns: the columns, in the order of ``paper``'s values.

    >>> import pandas as pd
    >>> r = Results("99_example", "quick", results_dir=tempfile.mkdtemp())
    >>> ours = pd.DataFrame({"×2": [30.1, 31.0], "×4": [float("nan"), 27.0]}, index=["U-Net", "ours"])
    >>> compare_table(r, "Table 1", "SNR", {"U-Net": (31.3, None)}, ours, ["×2", "×4"], unit="dB")
    >>> [(c["quantity"], c["paper"], c["ours"]) for c in r.data["comparisons"]]
    [('SNR ×2, U-Net', 31.3, 30.1), ('SNR ×2, ours', None, 31.0), ('SNR ×4, ours', None, 27.0)]
    """
    columns = list(columns)
    names = list(ours.index) + [name for name in paper if name not in ours.index]
    for name in names:
        theirs = list(paper.get(name, [None] * len(columns)))
        if len(theirs) != len(columns):
            raise ValueError(f"paper row {name!r} has {len(theirs)} values for {len(columns)} columns")
        for column, value in zip(columns, theirs):
            mine = ours.loc[name, column] if name in ours.index and column in ours.columns else None
            mine = None if mine is None or math.isnan(float(mine)) else float(mine)
            if value is None and mine is None:
                continue
            results.compare(source, f"{metric} {column}, {name}", paper=value, ours=mine, unit=unit,
                            note=note, digits=digits)


def training_meta(checkpoint: Any) -> Mapping[str, Any]:
    """The ``meta`` of a checkpoint given as a path, a loaded model (its ``.meta``) or the meta itself."""
    if isinstance(checkpoint, (str, Path)):
        from .checkpoints import read

        return read(checkpoint)["meta"]
    if isinstance(checkpoint, Mapping):
        return checkpoint
    return getattr(checkpoint, "meta", {})


def provenance(checkpoints: Mapping[str, Any]) -> str:
    """What produced each checkpoint, one line each: the command, its steps, wall time and hardware
    (``{name: path, model or meta}``; a chapter prints it in a cell whose output nbval ignores).

    >>> print(provenance({"flow": {"command": "python -m funknn train flow", "steps": 3,
    ...                            "wall_seconds": 1.5, "hardware": "1 CPU thread"}}))
    flow: python -m funknn train flow (3 steps, 1.5 s on 1 CPU thread)
    """
    lines = []
    for name, checkpoint in checkpoints.items():
        m = training_meta(checkpoint)
        lines.append(f"{name}: {m.get('command', 'no command recorded')} ({m.get('steps')} steps, "
                     f"{m.get('wall_seconds')} s on {m.get('hardware')})")
    return "\n".join(lines)


def training_minutes(checkpoints: Any) -> float:
    """The recorded training time of the checkpoints (paths, models or metas; a mapping's values
    count), in minutes; a checkpoint without ``wall_seconds`` counts zero.

    >>> training_minutes([{"wall_seconds": 90}, {"wall_seconds": 30.0}, {}])
    2.0
    """
    items = checkpoints.values() if isinstance(checkpoints, Mapping) else checkpoints
    return sum(float(training_meta(c).get("wall_seconds") or 0) for c in items) / 60


def load_checked(path: str | Path, kind: type, device: Any = None, **expected: Any) -> Any:
    """The model of checkpoint ``path`` (:func:`funknn.load`, in eval mode), checked to be a
    ``kind`` whose attributes have the ``expected`` values; a clear error otherwise (a chapter
    given the wrong file fails at once, not in the middle of a solve).

    Raises:
        ValueError: the file holds another model, or one built for other settings.

    >>> import torch
    >>> from funknn.models import FunkNN
    >>> from funknn import save
    >>> path = Path(tempfile.mkdtemp()) / "f.pt"
    >>> save(FunkNN(1, network="mlp", kernel="cubic_conv"), path)
    >>> type(load_checked(path, FunkNN)).__name__
    'FunkNN'
    >>> load_checked(path, FunkNN, kernel="bicubic")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: checkpoint '...f.pt' holds a FunkNN with kernel=...; this chapter needs kernel='bicubic'
    """
    from .checkpoints import load

    model = load(path, device=device)
    if not isinstance(model, kind):
        raise ValueError(f"checkpoint {str(path)!r} holds a {type(model).__name__}, not a {kind.__name__}")
    for name, value in expected.items():
        if getattr(model, name, None) != value:
            raise ValueError(f"checkpoint {str(path)!r} holds a {kind.__name__} with {name}="
                             f"{getattr(model, name, None)!r}; this chapter needs {name}={value!r}")
    return model


def score_table(scores: Mapping[str, Any], stats: tuple[str, ...] = ("mean",), first: bool = False,
                digits: int = 2) -> Any:
    """A pandas table of per-image scores: one row per method (``{method: (B,) scores}``, tensors
    or arrays), one column per image ("image 1", ...) and the ``stats`` over the images ("mean",
    "min", "max", "median"), before the images with ``first``, after them otherwise; rounded to
    ``digits`` decimals for display. The values keep their dtype.

    >>> score_table({"a": [1.0, 2.0], "b": [3.0, 5.0]}, stats=("mean", "min"))
       image 1  image 2  mean  min
    a      1.0      2.0   1.5  1.0
    b      3.0      5.0   4.0  3.0
    """
    import numpy as np
    import pandas as pd

    if not scores:
        raise ValueError("score_table needs at least one method")
    arrays = {name: np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)
              for name, value in scores.items()}
    count = len(next(iter(arrays.values())))
    table = pd.DataFrame(arrays, index=[f"image {i + 1}" for i in range(count)]).T
    images = table.iloc[:, :count]
    for k, stat in enumerate(stats):
        if stat not in ("mean", "min", "max", "median"):
            raise ValueError(f"unknown statistic {stat!r}: mean, min, max or median")
        column = getattr(images, stat)(axis=1)
        if first:
            table.insert(k, stat, column)
        else:
            table[stat] = column
    return table.round(digits)


def compare_images(results: Results, source: str, quantity: str, scores: Mapping[str, Any],
                   paper: Mapping[str, Any], unit: str = "", note: str = "") -> None:
    """A figure of the paper that scores a few test images, beside ours, in ``results``.

    For each method of ``scores`` (``{method: (B,) scores of this run}``): one row per image that
    the paper scores for it (``paper[method]``, a sequence; ours ``None`` when this run has fewer
    images), then one row for the mean over the images (the paper's: the mean of its values;
    ``None`` for a method the paper lacks).

    >>> r = Results("99_example", "quick", results_dir=tempfile.mkdtemp())
    >>> compare_images(r, "Figure 8", "SNR", {"FBP": [5.0, 7.0], "TV": [9.0, 9.5]}, {"FBP": (5.8, 7.2, 6.5)})
    >>> [(c["quantity"], c["paper"], c["ours"]) for c in r.data["comparisons"]]
    [('SNR, test image 1: FBP', 5.8, 5.0), ('SNR, test image 2: FBP', 7.2, 7.0),
     ('SNR, test image 3: FBP', 6.5, None), ('SNR, mean of the test images: FBP', 6.5, 6.0),
     ('SNR, mean of the test images: TV', None, 9.25)]
    """
    for name, values in scores.items():
        ours = [float(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]
        theirs = [float(v) for v in paper.get(name, ())]
        for i, value in enumerate(theirs):
            results.compare(source, f"{quantity}, test image {i + 1}: {name}", paper=value,
                            ours=ours[i] if i < len(ours) else None, unit=unit, note=note)
        results.compare(source, f"{quantity}, mean of the test images: {name}", unit=unit, note=note,
                        paper=sum(theirs) / len(theirs) if theirs else None,
                        ours=sum(ours) / len(ours) if ours else None)


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


def gap(paper: Any, ours: Any, unit: str = "") -> str:
    """How far ours is from the paper's number, in words: a difference for decibels (``"+1.20 dB"``),
    a ratio otherwise (``"×0.85"``); ``""`` when either is missing or not a number.

    >>> gap(32.6, 30.1, "dB"), gap(0.7, 0.56, "s"), gap("140K", 139_000), gap(None, 3.0)
    ('-2.50 dB', '×0.80', '', '')
    """
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (paper, ours)):
        return ""
    if unit.strip().lower() == "db":
        return f"{ours - paper:+.2f} dB"
    return f"×{ours / paper:.2f}" if paper else ""


def _matches(source: str, prefix: str) -> bool:
    """``source`` starts with ``prefix`` as a whole word: ``"Table 1"`` matches ``"Table 1, OOD"``,
    not ``"Table 12"``."""
    s, p = source.strip().lower(), prefix.strip().lower()
    return s.startswith(p) and (len(s) == len(p) or not s[len(p)].isalnum())


def comparison_rows(chapters: list[ChapterResults],
                    groups: Mapping[str, list[str] | tuple[str, ...]] | None = None,
                    ) -> dict[str, list[dict[str, Any]]]:
    """The chapters' comparisons grouped by the paper's table, figure or section.

    Args:
        chapters: from :func:`read_results`.
        groups: ``{group: source prefixes}``, e.g. ``{"Figure 13": ["Figure 13", "Appendix E"]}``;
            a comparison joins the first group one of whose prefixes starts its ``source`` (as a
            whole word, case-insensitive). ``None``: one group per distinct ``source``.

    Returns:
        ``{group: rows}`` with every group of ``groups`` (in its order, possibly empty), then
        ``"other"`` for the comparisons no group takes (only if there are any). A row is a
        comparison with ``chapter`` (the notebook's name), ``label`` (``"Chapter 1"``) and
        ``gap`` (see :func:`gap`) added, in the order of the chapters and of their files.

    >>> ch = ChapterResults("03_x", "ran", comparisons=[
    ...     {"source": "Appendix E", "quantity": "SNR image", "paper": 72.1, "ours": 70.0, "unit": "dB"}])
    >>> rows = comparison_rows([ch], {"Table 1": ["Table 1"], "Figure 13": ["Figure 13", "Appendix E"]})
    >>> {k: len(v) for k, v in rows.items()}, rows["Figure 13"][0]["gap"]
    ({'Table 1': 0, 'Figure 13': 1}, '-2.10 dB')
    """
    out: dict[str, list[dict[str, Any]]] = {group: [] for group in (groups or {})}
    for chapter in chapters:
        for item in chapter.comparisons:
            row = {**item, "chapter": chapter.notebook, "label": chapter.label,
                   "gap": gap(item.get("paper"), item.get("ours"), item.get("unit") or "")}
            source = str(item.get("source") or "")
            if groups is None:
                key = source
            else:
                key = next((g for g, prefixes in groups.items()
                            if any(_matches(source, p) for p in prefixes)), "other")
            out.setdefault(key, []).append(row)
    return out


def finding_rows(chapters: list[ChapterResults]) -> list[dict[str, Any]]:
    """Every chapter's findings, in order, each with ``chapter`` and ``label`` added."""
    return [{**item, "chapter": c.notebook, "label": c.label} for c in chapters for item in c.findings]


def verdict_counts(chapters: list[ChapterResults]) -> dict[str, int]:
    """How many findings got each verdict: ``{"held": …, "not held": …, "not tested": …}``."""
    counts = dict.fromkeys(VERDICTS, 0)
    for row in finding_rows(chapters):
        counts[row["verdict"]] += 1
    return counts
