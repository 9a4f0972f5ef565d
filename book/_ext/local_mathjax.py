"""Sphinx extension: serve MathJax from the built book itself, so that formulas render offline.

MathJax 3 comes from the pinned PyPI package ``django-static-mathjax`` (it installs the
module ``mathjax`` with MathJax's ``es5`` build under ``mathjax/static/mathjax/es5``; no Django
needed). When an HTML build finishes, that folder is copied to ``_static/mathjax/`` of the output,
and ``mathjax_path`` (set in ``_config.yml``) points at ``mathjax/tex-mml-chtml.js`` there.
A ``mathjax_path`` that is a URL is reported as a warning (an error in the strict build).
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def mathjax_source() -> Path:
    """The folder of MathJax's ``es5`` build installed by ``django-static-mathjax``."""
    folder = Path(str(files("mathjax"))) / "static" / "mathjax" / "es5"
    if not (folder / "tex-mml-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax's es5 build is not in {folder}: "
                                "pip install -r requirements.txt (django-static-mathjax)")
    return folder


def _check_path(app: Sphinx) -> None:
    path = str(app.config.mathjax_path)
    if "://" in path or path.startswith("//"):
        logger.warning("mathjax_path %r is a URL: the book's formulas would need the network; "
                       "set it to 'mathjax/tex-mml-chtml.js' (served from _static)", path)


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    shutil.copytree(mathjax_source(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app: Sphinx) -> dict[str, object]:
    mathjax_source()  # fail at once, not after the whole build, when MathJax is missing
    app.connect("builder-inited", _check_path)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
