"""Numbers for a chapter's prose and tables: glued values, the paper's tables and figures beside
ours in a results file, per-image score tables, and the rows of "Results at a glance"."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from .results import VERDICTS, ChapterResults, Results

__all__ = ["glue", "compare_table", "compare_images", "score_table", "gap", "comparison_rows", "finding_rows",
           "verdict_counts", "interval_text", "margin_table", "margin_counts", "findings_table", "lookup",
           "difference", "scope_rows", "deviation_rows"]


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


def _number(x: Any, digits: int, signed: bool) -> str:
    text = f"{float(x):{'+' if signed else ''}.{digits}f}"
    return text.replace("-", "−")


def interval_text(interval: Mapping[str, Any] | None, digits: int = 2, signed: bool = True,
                  unit: str = "") -> str:
    """An interval dict of a results file (``Interval.as_dict()``) as ``"+2.10 [+1.50, +2.70]"``;
    ``"–"`` without one.

    >>> interval_text({"mean": 2.1, "low": 1.5, "high": 2.7}), interval_text(None)
    ('+2.10 [+1.50, +2.70]', '–')
    """
    if not isinstance(interval, Mapping) or any(not isinstance(interval.get(k), numbers.Real)
                                                for k in ("mean", "low", "high")):
        return "–"
    return (f"{_number(interval['mean'], digits, signed)} [{_number(interval['low'], digits, signed)}, "
            f"{_number(interval['high'], digits, signed)}]{unit}")


def _counts(interval: Mapping[str, Any]) -> str:
    """``"3 seeds × 7 images (3 source images)"`` from an interval dict (its seeds, images, groups)."""
    seeds = interval.get("seeds")
    seeds = " / ".join(map(str, seeds)) if isinstance(seeds, (list, tuple)) else str(seeds)
    images, groups = interval.get("images"), interval.get("groups")
    source = f" ({groups} source images)" if groups is not None and groups != images else ""
    return f"{seeds} {'seed' if seeds == '1' else 'seeds'} × {images} images{source}"


def interval_table(intervals: Mapping[str, Any], digits: int = 2, verdicts: Mapping[str, str] | None = None,
                   **columns: Mapping[str, Any]) -> Any:
    """A pandas table of named intervals (``funknn.stats.Interval`` or their dicts): one row each,
    with "mean [95%]" and "seeds × images", then each of ``columns`` (``{row: value}``; numbers
    rounded to ``digits``), then the verdicts, if given.

    >>> t = interval_table({"A − B": {"mean": 0.5, "low": 0.1, "high": 0.9, "seeds": 1, "images": 8,
    ...                              "groups": 8}}, solver_sd={"A − B": 0.234}, verdicts={"A − B": "held"})
    >>> [str(v) for v in t.loc["A − B"]]
    ['+0.50 [+0.10, +0.90]', '1 seed × 8 images', '0.23', 'held']
    """
    import pandas as pd

    rows = {}
    for name, interval in intervals.items():
        given = interval.as_dict() if hasattr(interval, "as_dict") else interval
        row: dict[str, Any] = {"mean [95%]": interval_text(given, digits), "seeds × images": _counts(given)}
        for column, values in columns.items():
            value = values.get(name)
            row[column] = round(float(value), digits) if isinstance(value, numbers.Real) else value
        if verdicts is not None:
            row["verdict"] = verdicts.get(name, "–")
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _headline(chapter: ChapterResults | Mapping[str, Any]) -> Mapping[str, Any]:
    return chapter.headline if isinstance(chapter, ChapterResults) else chapter


def margin_table(chapter: ChapterResults | Mapping[str, Any], digits: int = 2) -> Any:
    """Each method's margin over the same-data baseline (method − Bilinear), ours with its 95% interval
    beside the paper's, in the paper's layout: one row per method, for each column of the paper's table
    (×2, ×4, ×8, ×2 OOD) "paper" and "ours [95%]", then the number of training seeds of the row.

    Reads chapter 1's ``margins`` (``{row: {col: interval dict}}``), ``paper_margins`` (``{row: {col:
    number}}``) and ``seeds`` (``{row: n}``). ``None`` for a file without ``margins`` (an older run).
    The rows: ours in order, then the paper's that we lack; the columns: the paper's, then ours.

    >>> t = margin_table({"margins": {"FunkNN": {"×2": {"mean": 2.0, "low": 1.0, "high": 3.0}}},
    ...                   "paper_margins": {"U-Net": {"×2": 3.8}, "FunkNN": {"×2": 5.1, "×4": 3.3}},
    ...                   "seeds": {"FunkNN": 3}})
    >>> t.loc["FunkNN"].tolist()
    ['+5.10', '+2.00 [+1.00, +3.00]', '+3.30', '–', '3']
    >>> t.index.tolist(), t.loc["U-Net"].tolist()
    (['FunkNN', 'U-Net'], ['+3.80', '–', '–', '–', '–'])
    """
    import pandas as pd

    data = _headline(chapter)
    ours = data.get("margins")
    if not isinstance(ours, Mapping) or not ours:
        return None
    given_paper, given_seeds = data.get("paper_margins"), data.get("seeds")
    paper: Mapping[str, Any] = given_paper if isinstance(given_paper, Mapping) else {}
    seeds: Mapping[str, Any] = given_seeds if isinstance(given_seeds, Mapping) else {}
    rows = list(ours) + [r for r in paper if r not in ours]
    # the columns in the order of the fullest row (the paper's first), then any others as they come
    every = [list(row) for source in (paper, ours) for row in source.values() if isinstance(row, Mapping)]
    columns: list[str] = []
    for row in sorted(every, key=len, reverse=True):
        columns += [c for c in row if c not in columns]
    table = {}
    for row in rows:
        mine, theirs = ours.get(row) or {}, paper.get(row) or {}
        cells: dict[Any, Any] = {}
        for column in columns:
            value = theirs.get(column)
            number = isinstance(value, numbers.Real)
            cells[(column, "paper")] = _number(value, digits, True) if number else "–"
            cells[(column, "ours [95%]")] = interval_text(mine.get(column), digits)
        cells[("", "seeds")] = str(seeds.get(row, "–"))
        table[row] = cells
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame.index.name = "method − Bilinear (dB)"
    return frame


def margin_counts(chapter: ChapterResults | Mapping[str, Any]) -> dict[str, str]:
    """What the margins of each column rest on (``{col: "3 seeds × 7 images (3 source images)"}``, from
    the first row that has the column; ``{}`` for a file without ``margins``).

    >>> margin_counts({"margins": {"F": {"×2": {"mean": 1, "low": 0, "high": 2, "seeds": 3, "images": 7,
    ...                                            "groups": 3}}}})
    {'×2': '3 seeds × 7 images (3 source images)'}
    """
    out: dict[str, str] = {}
    margins = _headline(chapter).get("margins")
    for row in (margins.values() if isinstance(margins, Mapping) else ()):
        for column, interval in (row.items() if isinstance(row, Mapping) else ()):
            if column not in out and isinstance(interval, Mapping) and "images" in interval:
                out[column] = _counts(interval)
    return out


def findings_table(findings: list[dict[str, Any]], digits: int = 2) -> Any:
    """The findings of a results file as a table: verdict, the mean [95% interval] and the counts of
    seeds and images where the finding carries an ``interval``, what the chapter measured, the paper's
    number, the decision rule and the section ("–" for what a finding lacks, e.g. one of an old run).

    >>> t = findings_table([{"finding": "a", "verdict": "held", "measured": "+2 dB", "paper": "+5 dB",
    ...     "section": "5.1", "interval": {"mean": 2.0, "low": 1.0, "high": 3.0, "seeds": 3, "images": 7,
    ...     "groups": 7}, "rule": "interval above 0"}, {"finding": "b", "verdict": "not tested"}])
    >>> t.loc["a", "mean [95% interval]"], t.loc["a", "seeds × images"], t.loc["b", "rule"]
    ('+2.00 [+1.00, +3.00]', '3 seeds × 7 images', '–')
    """
    import pandas as pd

    def text(value: Any) -> Any:
        return "–" if value is None or value == "" else value

    rows = []
    for f in findings:
        interval = f.get("interval")
        counts = f.get("counts") or (_counts(interval) if isinstance(interval, Mapping) else "")
        rows.append({"finding": f.get("finding", ""), "verdict": f.get("verdict", "not tested"),
                     "mean [95% interval]": interval_text(interval, digits), "seeds × images": text(counts),
                     "measured": text(f.get("measured")), "paper": text(f.get("paper")),
                     "rule": text(f.get("rule")), "section": text(f.get("section"))})
    columns = ["finding", "verdict", "mean [95% interval]", "seeds × images", "measured", "paper", "rule",
               "section"]
    return pd.DataFrame(rows, columns=columns).set_index("finding")


def lookup(chapters: list[ChapterResults], notebook: str, *path: str) -> Any:
    """A value of chapter ``notebook``'s results file by its keys (``lookup(ch, "01_x", "snr", "U-Net",
    "×2")``); ``None`` when the chapter did not run or the file lacks it.

    >>> ch = [ChapterResults("01_x", "ran", headline={"snr": {"U-Net": {"×2": 30.0}}})]
    >>> lookup(ch, "01_x", "snr", "U-Net", "×2"), lookup(ch, "01_x", "snr", "LIIF"), lookup(ch, "02_y", "a")
    (30.0, None, None)
    """
    value: Any = next((c.headline for c in chapters if c.notebook == notebook and c.status == "ran"), None)
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def difference(a: Any, b: Any) -> float | None:
    """``a − b`` for two numbers (an interval dict counts by its mean); ``None`` if either is missing.

    >>> difference(3.0, 1.0), difference({"mean": 2.5}, 0.5), difference(None, 1.0)
    (2.0, 2.0, None)
    """
    a, b = (x.get("mean") if isinstance(x, Mapping) else x for x in (a, b))
    ok = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in (a, b))
    return float(a) - float(b) if ok else None


def _summary(verdicts: list[str]) -> str:
    counts = {v: verdicts.count(v) for v in VERDICTS if v in verdicts}
    return ", ".join(f"{n} {v}" for v, n in counts.items()) or "no finding recorded"


def scope_rows(chapters: list[ChapterResults], claims: list[dict[str, Any]]) -> Any:
    """The paper's central claims, each with the chapter that tests it and the verdicts of its findings.

    Args:
        claims: ``{"claim", "chapter" (notebook), "findings" (prefixes of the findings that test it)}``
            each; a claim's findings are those of its chapter whose text starts with a prefix
            (case-insensitive).

    >>> ch = [ChapterResults("01_x", "ran", findings=[{"finding": "FunkNN above bilinear", "verdict": "held"},
    ...                                               {"finding": "FunkNN fast", "verdict": "inconclusive"}])]
    >>> scope_rows(ch, [{"claim": "accurate", "chapter": "01_x", "findings": ["funknn above", "FunkNN fast"]},
    ...                 {"claim": "priors", "chapter": "05_y", "findings": ["x"]}])["verdicts"].tolist()
    ['1 held, 1 inconclusive', 'chapter not run']
    """
    import pandas as pd

    by_name = {c.notebook: c for c in chapters}
    rows = []
    for claim in claims:
        chapter = by_name.get(claim["chapter"])
        label = chapter.label if chapter else claim["chapter"]
        if chapter is None or chapter.status != "ran":
            missing = chapter is None or chapter.status == "not run"
            summary = "chapter not run" if missing else "results unreadable"
        else:
            prefixes = [p.lower() for p in claim.get("findings", ())]
            summary = _summary([f["verdict"] for f in chapter.findings
                                if any(str(f["finding"]).lower().startswith(p) for p in prefixes)])
        rows.append({"claim": claim["claim"], "tested in": label, "verdicts": summary})
    return pd.DataFrame(rows, columns=["claim", "tested in", "verdicts"]).set_index("claim")


def deviation_rows(deviations: list[dict[str, Any]], digits: int = 2) -> Any:
    """Every departure from the paper: what, the paper's setting, ours, why, and its measured effect.

    Args:
        deviations: ``{"what", "paper", "ours", "reason", "effect", "unit", "how"}`` each; ``effect`` a
            number read from a results file (``None``: "not measured"), ``how`` what the number is.

    >>> t = deviation_rows([{"what": "lr", "paper": "1e-4", "ours": "1e-3", "reason": "time", "effect": None},
    ...                     {"what": "skip", "paper": "no", "ours": "yes", "reason": "OOD", "effect": 1.234,
    ...                      "unit": " dB", "how": "ours minus the paper way, ×2"}])
    >>> t["measured effect"].tolist()
    ['not measured', '+1.23 dB (ours minus the paper way, ×2)']
    """
    import pandas as pd

    rows = []
    for d in deviations:
        effect = d.get("effect")
        if isinstance(effect, numbers.Real) and not isinstance(effect, bool):
            how = f" ({d['how']})" if d.get("how") else ""
            effect = f"{_number(effect, digits, True)}{d.get('unit', '')}{how}"
        elif not effect:
            effect = "not measured"
        rows.append({"deviation": d["what"], "paper": d.get("paper", "–"), "ours": d.get("ours", "–"),
                     "reason": d.get("reason", "–"), "measured effect": effect})
    return pd.DataFrame(rows, columns=["deviation", "paper", "ours", "reason", "measured effect"]).set_index(
        "deviation")
