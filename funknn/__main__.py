"""``python -m funknn …``: the command line (:mod:`funknn.cli`)."""

from __future__ import annotations

import sys

from .cli import USER_ERRORS, build_parser, main

__all__ = ["USER_ERRORS", "build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
