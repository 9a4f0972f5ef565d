"""Command line: ``python -m funknn train|train-autoencoder|train-flow|train-gasp|evaluate|render|release``.

A user's mistake (a missing file, a bad option value, a bad recipe) prints one line ``error: …``
and exits with status 2; ``--debug`` shows the traceback instead. Every default and choice comes
from the library (the recipe's fields in :mod:`funknn.config`, the config dataclasses, the model
constructors and the model registry), so the two cannot drift apart. A recipe (``--config``, see
``configs/``) sets the defaults of a training command; options given beside it override it.

Examples::

    python -m funknn train --config configs/photos_factor.yaml
    python -m funknn train --config configs/photos_factor.yaml --steps 2 --out /tmp/m.pt
    python -m funknn train --mode factor --steps 2000 --out data/checkpoints/photos_factor.pt
    python -m funknn evaluate --checkpoint data/checkpoints/photos_factor.pt --hierarchical
    python -m funknn render --checkpoint data/checkpoints/photos_factor.pt --input low.png \\
        --size 512 512 --output high.png

A new subcommand is a module with ``add_parsers(sub)`` listed in :data:`PARSERS`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from .. import distributed
from ..config import TASKS, RunSpec
from . import train, use

__all__ = ["PARSERS", "USER_ERRORS", "build_parser", "main"]

#: what a user's mistake raises (a missing or corrupt file, a bad value, a wrong kind of file)
USER_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, ValueError,
               ImportError)

#: the modules that add subcommands, in the order of the help
PARSERS: list[Any] = [train.add_parsers, use.add_parsers]

TRAIN_COMMANDS = {t.command: task for task, t in TASKS.items()}


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line ``error: …`` (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        self.exit(2, f"error: {text} (see {self.prog} --help)\n")


def build_parser(recipe: RunSpec | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; the training command of ``recipe``'s task takes its
    defaults from ``recipe``."""
    parser = Parser(prog="python -m funknn", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in PARSERS:
        add(sub, recipe) if add is train.add_parsers else add(sub)
    return parser


def _option(argv: list[str], name: str) -> str | None:
    """The value of option ``name`` in ``argv`` (``--name X`` or ``--name=X``), else None."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _with_recipe(argv: list[str]) -> tuple[RunSpec | None, list[str]]:
    """The recipe of ``--config`` (if any) and the command line to parse: ``train --config FILE``
    runs the recipe's task."""
    command = next((a for a in argv if not a.startswith("-")), None)
    path = _option(argv, "--config")
    if command not in TRAIN_COMMANDS or path is None:
        return None, argv
    recipe = RunSpec.from_yaml(path)
    wanted = TASKS[recipe.task].command
    if command != wanted:
        if command != "train":
            raise ValueError(f"{path} is a recipe of {wanted} (task {recipe.task!r}), not of {command}")
        argv = list(argv)
        argv[argv.index(command)] = wanted
    return recipe, argv


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        recipe, parsed = _with_recipe(argv)
        args = build_parser(recipe).parse_args(parsed)
        args.argv = [a for a in argv if a != "--debug"]
        code = int(args.func(args))
        distributed.teardown()
        return code
    except USER_ERRORS as err:
        if debug:
            raise
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
