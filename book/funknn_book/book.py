"""Every helper of the chapters but the figures, under one name: a chapter reads
``from funknn_book import book, plotting`` and calls ``book.settings``, ``book.Results``, ...

The helpers live in :mod:`funknn_book.profiles`, :mod:`funknn_book.checkpoints`,
:mod:`funknn_book.results` and :mod:`funknn_book.tables`; the figures in :mod:`funknn_book.plotting`.
"""

from .checkpoints import checkpoint_path, load_checked, provenance, training_meta, training_minutes
from .profiles import Clock, machine, require, settings
from .results import CHAPTER_STATUSES, VERDICTS, ChapterResults, Results, jsonable, read_results, verdict

# isort: off
from .checkpoints import budget_path
from .tables import (compare_images, compare_table, comparison_rows, deviation_rows, difference,
                     finding_rows, findings_table, gap, glue, interval_text, lookup, margin_counts,
                     interval_table, margin_table, score_table, scope_rows, verdict_counts)
# isort: on

__all__ = ["settings", "require", "checkpoint_path", "budget_path", "Results", "jsonable", "glue", "Clock",
           "VERDICTS",
           "verdict", "machine", "compare_table", "training_meta", "provenance", "training_minutes",
           "load_checked", "score_table", "interval_table", "compare_images", "CHAPTER_STATUSES",
           "ChapterResults", "read_results", "gap", "comparison_rows", "finding_rows", "verdict_counts",
           "interval_text",
           "margin_table", "margin_counts", "findings_table", "lookup", "difference", "scope_rows",
           "deviation_rows"]
