"""The golden file: the quick profile's headline figures, pinned with tolerances from their spread.

``make test`` runs ``python -m funknn_book.golden check _build/results``: every figure of
:data:`PINS` in the chapters' results files of the run is compared with ``book/golden.json``, and
one that moved by more than its tolerance fails the build (a −3 dB regression of a shipped model
no longer passes because a re-run equals the run before it). ``make golden-refresh`` rewrites the
file from a run, deliberately, after a change that is meant to move the numbers.

A pin's tolerance is ``max(floor, K × spread)``, where the spread is the one measured in the
same run: the standard deviation over training seeds of a row of Table 1 (chapter 1's
``seed_spread``), or of one image's score over solver seeds (chapter 5's ``solver_sd_db``),
divided by √n where the pin is a mean over n test images solved independently (the standard
deviation of that mean over solver seeds); pins without a measured spread get the floor,
:data:`FLOOR` (evaluation of a fixed model differs between CPUs by far less) or a pin's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Pin", "PINS", "K", "FLOOR", "lookup", "tolerance", "refresh", "check", "main"]

#: tolerance = max(FLOOR, K × spread), in dB
K = 3.0
FLOOR = 0.3


@dataclasses.dataclass(frozen=True)
class Pin:
    """One pinned figure: its chapter (results file stem), its path in the file, the path of its
    measured spread in the same file (``None``: the floor; a first key ``"@<chapter>"`` reads
    another chapter's file), the spread's meaning, the pin's floor (dB) and, for a spread of one
    image that pins a mean over images, the path of that number of images in the pin's file (the
    spread is divided by its square root)."""

    notebook: str
    path: tuple[str, ...]
    spread: tuple[str, ...] | None = None
    basis: str = ""
    floor: float = FLOOR
    images: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return f"{self.notebook}: {' / '.join(self.path)}"


_CH1 = "01_super_resolution"
_TRAINED = ("U-Net (paper)", "U-Net + bicubic skip", "LIIF-EDSR", "LIIF-EDSR (140K)", "FunkNN (single)",
            "FunkNN (continuous)", "FunkNN (factor)")
_CH5 = "05_inverse_derivatives"
_SOLVED = ("dense: FunkNN prior, + fine-tuning", "sparse: FunkNN prior, + fine-tuning")

#: the figures checked by ``make test``
PINS: tuple[Pin, ...] = (
    *(Pin(_CH1, ("snr", row, "×2"), ("seed_spread", row, "×2"), "SD over training seeds")
      for row in ("Bilinear",) + _TRAINED),
    *(Pin(_CH1, ("snr", row, "×2 OOD"), ("seed_spread", row, "×2 OOD"), "SD over training seeds")
      for row in ("FunkNN (factor)", "U-Net (paper)")),
    Pin("04_generative_prior", ("autoencoder_test_snr_db",)),
    Pin("04_generative_prior", ("funknn_snr_x2_db", "FunkNN (factor, cubic_conv)")),
    *(Pin(_CH5, ("si_snr_db", row), ("solver_sd_db", row), "SD over solver seeds of one image / √images",
          images=("test_images",)) for row in _SOLVED),
    # the classical baselines: convex problems solved by Adam (their spread between CPUs is not measured)
    *(Pin(_CH5, ("si_snr_db", row), floor=2.0) for row in ("dense: Poisson", "sparse: Poisson + TV")),
    Pin("06_limited_view_ct", ("paper_protocol_minus_fbp_ramp_db",),
        ("@" + _CH5, "solver_sd_db", "sparse: FunkNN prior, + fine-tuning"),
        "chapter 5's SD of one image over solver seeds (the same prior and solver) / √images",
        images=("test_images",)),
)


def lookup(data: Any, path: Sequence[str]) -> float | None:
    """The number at ``path`` in a results file's dict (``None`` if absent or not a number).

    >>> lookup({"snr": {"FunkNN": {"×2": 26.1}}}, ("snr", "FunkNN", "×2")), lookup({}, ("snr",))
    (26.1, None)
    """
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    if isinstance(data, bool) or not isinstance(data, (int, float)) or not math.isfinite(data):
        return None
    return float(data)


def tolerance(spread: float | None, floor: float = FLOOR) -> float:
    """``max(floor, K × spread)``; the floor without a spread.

    >>> tolerance(None), tolerance(0.05), tolerance(0.5), tolerance(None, 1.0)
    (0.3, 0.3, 1.5, 1.0)
    """
    return floor if spread is None else max(floor, K * spread)


def _load(results_dir: Path, notebook: str) -> dict[str, Any] | None:
    path = results_dir / f"{notebook}.json"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    return data if isinstance(data, dict) else None


def _spread(pin: Pin, files: Mapping[str, dict[str, Any] | None]) -> float | None:
    if pin.spread is None:
        return None
    path, source = pin.spread, pin.notebook
    if path[0].startswith("@"):       # a spread measured in another chapter
        source, path = path[0][1:], path[1:]
    spread = lookup(files.get(source), path)
    if spread is None or pin.images is None:
        return spread
    images = lookup(files.get(pin.notebook), pin.images)
    if images is None or images < 1:
        raise KeyError(f"{pin.name}: its number of images {'/'.join(pin.images)} is not in "
                       f"{pin.notebook}.json")
    return spread / math.sqrt(images)


def _files(results_dir: Path) -> dict[str, dict[str, Any] | None]:
    names = {pin.notebook for pin in PINS}
    names |= {p.spread[0][1:] for p in PINS if p.spread and p.spread[0].startswith("@")}
    return {name: _load(results_dir, name) for name in sorted(names)}


def refresh(results_dir: str | os.PathLike, golden: str | os.PathLike, machine: str = "",
            only: Sequence[str] | None = None) -> dict[str, Any]:
    """Rewrite ``golden`` (atomically) from the results files of a quick-profile run in
    ``results_dir``; every pin must be there. With ``only`` (chapter notebooks), only those
    chapters' pins are taken from the run and the others kept from the existing ``golden`` (a
    chapter re-run alone, e.g. after shipping another training seed of its models); the file's
    ``machine`` then names both runs. Returns what was written."""
    files = _files(Path(results_dir))
    kept: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    if only is not None:
        unknown = sorted(set(only) - {pin.notebook for pin in PINS})
        if unknown:
            raise ValueError(f"no pins of {unknown}; pinned chapters: {sorted({p.notebook for p in PINS})}")
        old = json.loads(Path(golden).read_text(encoding="utf-8"))
        kept = {(p["notebook"], tuple(p["path"])): p for p in old["pins"] if p["notebook"] not in only}
        machine = f"{', '.join(sorted(only))}: {machine}; the others: {old.get('machine', '')}"
    pins = []
    for pin in PINS:
        if (pin.notebook, tuple(pin.path)) in kept:
            pins.append(kept[pin.notebook, tuple(pin.path)])
            continue
        data = files.get(pin.notebook)
        if data is None:
            raise FileNotFoundError(f"{pin.notebook}.json is not in {results_dir}: run the chapter first")
        if data.get("profile") != "quick":
            raise ValueError(f"{pin.notebook}.json is of profile {data.get('profile')!r}; the golden file "
                             "pins the quick profile")
        value = lookup(data, pin.path)
        if value is None:
            raise KeyError(f"{pin.name} is not a number in {pin.notebook}.json")
        spread = _spread(pin, files)
        pins.append({"notebook": pin.notebook, "path": list(pin.path), "value": round(value, 3),
                     "spread": None if spread is None else round(spread, 3),
                     "tolerance": round(tolerance(spread, pin.floor), 3),
                     "basis": (f"{K:g} × {pin.basis}" if spread is not None else f"floor {pin.floor:g} dB")})
    out = {"profile": "quick", "refreshed": datetime.date.today().isoformat(), "machine": machine,
           "rule": f"tolerance = max({FLOOR} dB, {K:g} × the spread measured in the run)",
           "refresh": "make golden-refresh", "pins": pins}
    target = Path(golden)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, target)
    return out


def check(results_dir: str | os.PathLike, golden: str | os.PathLike) -> list[dict[str, Any]]:
    """Compare a run's results files with ``golden``: one row per pin with ``status`` ``"ok"``,
    ``"moved"`` (beyond its tolerance), ``"missing"`` (no file or no number) or ``"skipped"`` (the
    run is of another profile than the golden file's)."""
    with Path(golden).open(encoding="utf-8") as f:
        spec = json.load(f)
    results = Path(results_dir)
    rows = []
    for pin in spec["pins"]:
        data = _load(results, pin["notebook"])
        row = {"pin": f"{pin['notebook']}: {' / '.join(pin['path'])}", "golden": pin["value"],
               "tolerance": pin["tolerance"], "value": None}
        if data is not None and data.get("profile") != spec.get("profile", "quick"):
            row["status"] = "skipped"
        else:
            value = None if data is None else lookup(data, pin["path"])
            row["value"] = value
            row["status"] = ("missing" if value is None else
                             "ok" if abs(value - pin["value"]) <= pin["tolerance"] else "moved")
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m funknn_book.golden", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("check", "refresh"))
    parser.add_argument("results_dir", help="the chapters' results files (make: _build/results)")
    parser.add_argument("--golden", default=str(Path(__file__).resolve().parents[1] / "golden.json"))
    parser.add_argument("--only", nargs="+", default=None, metavar="NOTEBOOK",
                        help="refresh: take only these chapters' pins from the run, keep the others")
    args = parser.parse_args(argv)
    if args.command == "refresh":
        from .profiles import machine

        out = refresh(args.results_dir, args.golden, machine=machine(), only=args.only)
        print(f"wrote {args.golden}: {len(out['pins'])} pins")
        return 0
    rows = check(args.results_dir, args.golden)
    for row in rows:
        value = "–" if row["value"] is None else f"{row['value']:.3f}"
        print(f"{row['status']:>8}  {row['pin']}: {value} "
              f"(golden {row['golden']:.3f} ± {row['tolerance']:.2f})")
    bad = [row for row in rows if row["status"] in ("moved", "missing")]
    if bad:
        print(f"{len(bad)} of {len(rows)} golden figures moved or are missing; if the change is meant, "
              "`make golden-refresh` and commit book/golden.json", file=sys.stderr)
        return 1
    print(f"golden figures: {sum(row['status'] == 'ok' for row in rows)} ok, "
          f"{sum(row['status'] == 'skipped' for row in rows)} skipped (another profile)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
