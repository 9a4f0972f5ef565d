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

__all__ = ["settings", "require", "checkpoint_path", "Results", "jsonable", "glue", "Clock",
           "VERDICTS", "verdict", "machine"]

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
        A deep copy: changing it leaves ``profiles`` alone.

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


def glue(name: str, value: Any, digits: int | None = None) -> Any:
    """Make ``value`` available to the chapter's prose as ``{glue:text}`name``` (myst-nb).

    Numbers are rounded to ``digits`` decimals first, so that the notebook's stored output is
    as stable as the tables (nbval compares it). Strings are glued as Markdown: use
    ``{glue:md}`name``` for them. Returns the glued value.
    """
    from IPython.display import Markdown
    from myst_nb import glue as myst_glue

    if digits is not None:
        value = round(float(value), digits)
    myst_glue(name, Markdown(value) if isinstance(value, str) else value, display=False)
    return value


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


# --- additions for chapters 1 and 2 ---

# --- additions for chapters 3 and 4 ---

# --- additions for chapters 5 and 6 ---

__all__ += ["load_checked", "score_table", "compare_images"]


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


# --- additions for the results at a glance ---
