"""Keep papermill's injected parameters out of the book: ``python book/hide_injected.py NOTEBOOK...``.

papermill adds a cell tagged ``injected-parameters`` to each notebook it executes, with the
values given on its command line; the Makefile passes ``results_dir``, an absolute path for
*Results at a glance*, so the cell would show the build machine's folders in the book. This
tags that cell ``remove-cell`` (Jupyter Book then leaves it out of the page; nbval still runs
it). The notebook's own ``parameters`` cell, with the defaults, stays visible.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

INJECTED = "injected-parameters"
REMOVE = "remove-cell"


def hide_injected(path: str | Path) -> int:
    """Tag the injected-parameters cells of the notebook at ``path``; returns how many there are."""
    notebook = nbformat.read(path, as_version=4)
    count = 0
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if INJECTED in tags:
            count += 1
            if REMOVE not in tags:
                tags.append(REMOVE)
    if count:
        nbformat.write(notebook, path)
    return count


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    for path in argv:
        hide_injected(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
