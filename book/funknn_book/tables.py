"""Numbers for a chapter's prose and tables: glued values, the paper's tables and figures beside
ours in a results file, per-image score tables, and the rows of "Results at a glance"."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from .results import VERDICTS, ChapterResults, Results

__all__ = ["glue", "compare_table", "compare_images", "score_table", "gap", "comparison_rows", "finding_rows",
           "verdict_counts"]


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

    >>> import tempfile
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


def compare_images(results: Results, source: str, quantity: str, scores: Mapping[str, Any],
                   paper: Mapping[str, Any], unit: str = "", note: str = "") -> None:
    """A figure of the paper that scores a few test images, beside ours, in ``results``.

    For each method of ``scores`` (``{method: (B,) scores of this run}``): one row per image that
    the paper scores for it (``paper[method]``, a sequence; ours ``None`` when this run has fewer
    images), then one row for the mean over the images (the paper's: the mean of its values;
    ``None`` for a method the paper lacks).

    >>> import tempfile
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
