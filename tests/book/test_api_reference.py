"""The API reference (book/api.md) documents the library, every module of it, and nothing else (the
chapters' helpers, funknn_book, are not the library)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: modules without an API of their own: the command line (documented by --help: funknn.cli and its
#: modules), the version, and the former home of training (re-exports only, no logic)
UNDOCUMENTED = {"funknn.__main__", "funknn.version", "funknn.training"}
UNDOCUMENTED_PACKAGES = ("funknn.cli",)


def library_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "funknn").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(n for n in set(names) - UNDOCUMENTED
                  if not any(n == p or n.startswith(p + ".") for p in UNDOCUMENTED_PACKAGES))


def documented() -> list[str]:
    return re.findall(r"^\.\. automodule:: (\S+)", (ROOT / "book" / "api.md").read_text(), re.M)


def test_the_api_reference_covers_the_library_only():
    modules = documented()
    assert len(modules) == len(set(modules)), "a module documented twice"
    assert not [m for m in modules if m != "funknn" and not m.startswith("funknn.")], modules
    assert not [m for m in modules if m not in library_modules() + ["funknn"]], "a module that does not exist"


def test_every_module_of_the_library_is_documented():
    """Each ``funknn.X``; a module deeper in a package at least through its package."""
    modules = set(documented())
    missing = [m for m in library_modules()
               if m not in modules and (m.count(".") == 1 or m.rsplit(".", 1)[0] not in modules)]
    assert not missing, f"book/api.md documents no {missing}"
