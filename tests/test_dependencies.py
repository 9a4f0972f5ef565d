"""Every package that the library, the book's helpers, the book's extensions, the notebooks, the
benchmarks and the tests import is declared: the library's in its dependencies or extras
(pyproject.toml), the book's helpers' in book/pyproject.toml, all of them pinned in
requirements.txt, whose pins environment.yml repeats."""

import ast
import functools
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the project's own top-level modules (packages and the scripts the tests import)
OWN = ({"funknn", "funknn_book", "conftest"} | {p.stem for d in ("tests", "book/_ext", "benchmarks")
                                               for p in (ROOT / d).rglob("*.py")}
       | {p.stem for p in (ROOT / "book").glob("*.py")})        # the book's build scripts


def normal(name: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return normal(re.split(r"[\s<>=!~\[;]", spec.strip(), maxsplit=1)[0])


def imported_modules(source: str) -> set[str]:
    """Top-level names of the absolute imports in ``source``, and of ``pytest.importorskip("x")``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "importorskip" and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def third_party(paths) -> dict[str, set[str]]:
    """``{top-level module: files importing it}`` for the modules that are neither the standard
    library's nor the project's own; notebooks count by their code cells."""
    found: dict[str, set[str]] = {}
    for path in paths:
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
            magic = ("%", "!")
            source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(magic))
        else:
            source = path.read_text()
        for name in imported_modules(source) - set(sys.stdlib_module_names) - OWN:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


@functools.cache
def providers() -> dict[str, list[str]]:
    return packages_distributions()


def distributions(module: str) -> set[str]:
    """The installed distributions that provide ``module``."""
    provided = {normal(d) for d in providers().get(module, [])}
    if not provided:
        pytest.fail(f"{module} is imported but no installed distribution provides it")
    return provided


def undeclared(modules: dict[str, set[str]], declared: set[str]) -> list[str]:
    return [f"{module} ({', '.join(sorted(distributions(module)))}) imported by {sorted(files)}"
            for module, files in sorted(modules.items()) if not distributions(module) & declared]


def pinned(lines) -> dict[str, str]:
    """``{name: version}`` of the ``name==version`` lines."""
    out = {}
    for line in lines:
        line = line.split("#")[0].strip().removeprefix("- ").strip()
        if "==" in line:
            name, version = line.split("==")
            out[normal(name)] = version.strip()
    return out


def requirements() -> dict[str, str]:
    return pinned((ROOT / "requirements.txt").read_text().splitlines())


def environment() -> dict[str, str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    return pinned(lines[start + 1:])


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text())["project"]


def named(meta: dict) -> list[str]:
    """The distributions a ``[project]`` table names: its dependencies and every extra's."""
    extras = [r for extra in meta.get("optional-dependencies", {}).values() for r in extra]
    return [requirement_name(r) for r in [*meta["dependencies"], *extras]]


def test_requirements_and_environment_pin_the_same_versions():
    makefile_torch = re.search(r"pip install --quiet torch==([\w.+]+)", (ROOT / "Makefile").read_text())
    assert makefile_torch, "the Makefile installs a pinned torch first"
    assert environment() == {**requirements(), "torch": makefile_torch.group(1)}


def test_the_library_declares_what_it_imports():
    declared = set(named(project(ROOT / "pyproject.toml")))
    assert not undeclared(third_party((ROOT / "funknn").rglob("*.py")), declared)


def test_the_books_helpers_declare_what_they_import():
    meta = project(ROOT / "book" / "pyproject.toml")
    assert meta["name"] == "funknn-book" and "optional-dependencies" not in meta
    declared = set(named(meta))
    assert "funknn" in declared
    assert not undeclared(third_party((ROOT / "book" / "funknn_book").rglob("*.py")), declared)


def test_everything_imported_is_pinned():
    """The library, the book (helpers, extensions, notebooks), the benchmarks and the tests."""
    paths = [p for d in ("funknn", "book", "benchmarks", "tests") for p in (ROOT / d).rglob("*.py")]
    paths += sorted((ROOT / "notebooks").glob("*.ipynb"))
    declared = set(requirements()) | {"torch"}            # torch: the Makefile installs it first
    assert not undeclared(third_party(paths), declared)
    # and every package the two pyproject files name is pinned
    names = named(project(ROOT / "pyproject.toml")) + named(project(ROOT / "book" / "pyproject.toml"))
    assert not [n for n in names if n not in declared | {"funknn"}]
