"""A chapter's settings: its profiles and the papermill parameters that override them, and the
run's machine and clock.

A chapter (a notebook of ``notebooks/``) picks a *profile* of settings (``"quick"``: embedded
data on a CPU; ``"paper"``: the paper's settings) and lets papermill parameters override some of
them.

>>> PROFILES = {"quick": dict(steps=600, scales=(2, 4), gasp=dict(steps=10)),
...             "paper": dict(steps=200_000, scales=(2, 4, 8), gasp=dict(steps=100))}
>>> s = settings(PROFILES, "quick", steps="40", scales=[2], **{"gasp.steps": None})
>>> s["steps"], s["scales"], s["gasp"]["steps"]
(40, (2,), 10)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["settings", "require", "machine", "Clock"]


def _cast(value: Any, default: Any, key: str) -> Any:
    """``value`` converted to the type of the profile's ``default`` (papermill passes strings, lists)."""
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            items = [value] if isinstance(value, (int, float, str)) else list(value)
            kind = type(default[0]) if default else None
            return tuple(kind(v) if kind in (int, float) else v for v in items)
    except (TypeError, ValueError) as err:
        raise ValueError(f"override {key}={value!r} does not fit the setting's type "
                         f"{type(default).__name__} (default {default!r})") from err
    return value


def settings(profiles: Mapping[str, Mapping[str, Any]], profile: str, **overrides: Any) -> dict[str, Any]:
    """The settings of ``profile`` with the overrides that are not ``None`` applied.

    Args:
        profiles: ``{profile name: {setting: default}}``; nested dictionaries allowed.
        profile: the chosen profile (a chapter's papermill parameter).
        **overrides: ``setting=value``; ``None`` keeps the profile's value (papermill's "not
            given"). A nested setting is named with dots: ``**{"gasp.steps": 100}``. The value is
            converted to the default's type (``"40"`` → 40 for an int, ``[2]`` → ``(2,)`` for a tuple).

    Returns:
        A deep copy of the profile's settings (changing it leaves ``profiles`` alone).

    Raises:
        ValueError: an unknown profile, or a value that does not convert.
        KeyError: an override naming a setting the profile does not have.
    """
    if profile not in profiles:
        raise ValueError(f"profile must be one of {list(profiles)}, got {profile!r}")
    out = copy.deepcopy(dict(profiles[profile]))
    for key, value in overrides.items():
        if value is None:
            continue
        *parents, last = key.split(".")
        node = out
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise KeyError(f"override {key!r}: profile {profile!r} has no group {part!r}")
            node = node[part]
        if last not in node:
            raise KeyError(f"override {key!r}: profile {profile!r} has no setting {last!r} "
                           f"(it has {sorted(node)})")
        node[last] = _cast(value, node[last], key) if node[last] is not None else value
    return out


def require(what: str, **values: Any) -> None:
    """Raise a clear error when a setting that ``what`` needs was not given.

    >>> require("profile='paper'", data_dir="/data/celeba")
    >>> require("profile='paper'", data_dir=None, ood_dir=None)
    Traceback (most recent call last):
    ...
    ValueError: profile='paper' needs data_dir, ood_dir (see data/README.md for the data sets)
    """
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"{what} needs {', '.join(missing)} (see data/README.md for the data sets)")


def machine() -> str:
    """The hardware a chapter ran on, in words: ``"1 CPU thread"``, ``"an NVIDIA H200"``."""
    import torch

    if torch.cuda.is_available():
        return f"an {torch.cuda.get_device_name(0)}"
    n = torch.get_num_threads()
    return f"{n} CPU thread{'s' if n > 1 else ''}"


class Clock:
    """Wall-clock time of a chapter's run, for the "time to run" line at its top.

    >>> clock = Clock()
    >>> clock.minutes() >= 0
    True
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def minutes(self) -> float:
        return self.seconds() / 60
