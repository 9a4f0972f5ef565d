"""Rewrite a shipped checkpoint whose stored config predates an argument with a new default.

Configs are complete constructor arguments (``funknn.models.build``); arguments that a file
leaves out are read with today's defaults. When a default changes, a file written before the
argument existed must say what it was built with. This script writes that in, atomically:

    python data/checkpoints/migrate.py

- ``ellipses_flow.pt``: RealNVP got ``couplings`` (default 1, the paper's coupling block); the
  shipped flow was built with two couplings per block.
"""

from __future__ import annotations

from pathlib import Path

from funknn.checkpoints import read, write_atomic

HERE = Path(__file__).resolve().parent

#: file -> constructor arguments its model was built with that its stored config lacks
MIGRATIONS = {"ellipses_flow.pt": {"couplings": 2}}


def main() -> None:
    for name, missing in MIGRATIONS.items():
        path = HERE / name
        record = read(path)
        todo = {k: v for k, v in missing.items() if k not in record["model_config"]}
        if not todo:
            print(f"{name}: nothing to do")
            continue
        record["model_config"] = {**record["model_config"], **todo}
        record["meta"] = {**record.get("meta", {}), "migrated": f"config completed with {todo}"}
        write_atomic(record, path)
        print(f"{name}: config completed with {todo}")


if __name__ == "__main__":
    main()
