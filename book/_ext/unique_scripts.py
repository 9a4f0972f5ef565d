"""Sphinx extension: each inline script once per page.

Sphinx 7.4 keeps an inline script added with ``app.add_js_file(None, body=...)`` twice when it is
added after the builder exists (once as ``None``, once as ``''``), so sphinx-thebe's and
sphinx-togglebutton's settings appear twice and the second ``const THEBE_JS_URL`` raises a
script error in every page (the browser check reports page script errors).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _unique(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple[object, ...]] = set()
    kept = []
    for js in scripts:
        key = (getattr(js, "filename", None) or "", getattr(js, "priority", None),
               *sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items()))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("html-page-context", _unique, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
