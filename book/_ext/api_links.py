"""Sphinx extension: links to funknn's re-exported names in the API reference.

The library's docstrings refer to public names where users meet them (``funknn.render``,
``funknn.models.RealNVP``), while autodoc documents each object once, in the module that defines
it (``funknn.rendering.render``, ``funknn.models.flow.RealNVP``). A Python reference to a
``funknn.`` name that has no entry of its own is resolved to the object's defining module.
"""

from __future__ import annotations

import importlib
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def lookup(target: str) -> Any:
    """The object named by a dotted ``funknn.…`` path, or ``None``."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def canonical_name(obj: Any) -> str | None:
    """Where autodoc documents ``obj``: ``module.qualname`` (a module: its own name)."""
    if isinstance(obj, type(importlib)):
        return obj.__name__
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else None


def _resolve(app: Sphinx, env: BuildEnvironment, node: pending_xref,
             contnode: nodes.TextElement) -> nodes.reference | None:
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("funknn."):
        return None
    name = canonical_name(lookup(target))
    if name is None or name == target:
        return None
    return env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name,
                                             node, contnode)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("missing-reference", _resolve)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
