"""The one place for the package's argument checks and their messages.

Configuration classes validate their fields in ``__post_init__`` with these helpers, so every
setting of every trainer, solver and recipe fails alike: a ``ValueError`` that names the setting,
what was expected and what was given::

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Settings:
    ...     steps: int = 10
    ...     lr: float = 1e-3
    ...     loss: str = "l1"
    ...     def __post_init__(self):
    ...         positive(self, "steps", "lr")
    ...         choice(self, "loss", ("l1", "l2"))
    >>> Settings(steps=0)
    Traceback (most recent call last):
    ...
    ValueError: steps must be positive, got 0
    >>> Settings(loss="huber")
    Traceback (most recent call last):
    ...
    ValueError: unknown loss 'huber'; expected one of ('l1', 'l2')

Tensor shape checks of images and coordinates live beside the sampler
(:func:`funknn.sampling.check_image`, :func:`funknn.sampling.check_coords`) and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .sampling import check_coords, check_image, check_kernel

__all__ = ["at_least", "check_coords", "check_image", "check_kernel", "choice", "lr_drop", "non_negative",
           "positive"]


def _values(owner: Any, names: Iterable[str]) -> Iterable[tuple[str, Any]]:
    for name in names:
        yield name, getattr(owner, name)


def positive(owner: Any, *names: str) -> None:
    """Raise ``ValueError`` unless every named field of ``owner`` is a finite number > 0."""
    for name, value in _values(owner, names):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive, got {value}")


def non_negative(owner: Any, *names: str) -> None:
    """Raise ``ValueError`` unless every named field of ``owner`` is a finite number ≥ 0."""
    for name, value in _values(owner, names):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be non-negative, got {value}")


def at_least(owner: Any, name: str, minimum: float, unit: str = "") -> None:
    """Raise ``ValueError`` unless field ``name`` of ``owner`` is ≥ ``minimum``."""
    value = getattr(owner, name)
    if not value >= minimum:
        suffix = f" {unit}" if unit else ""
        raise ValueError(f"{name} must be at least {minimum}{suffix}, got {value}")


def choice(owner: Any, name: str, options: tuple[str, ...], what: str | None = None) -> None:
    """Raise ``ValueError`` unless field ``name`` of ``owner`` is one of ``options``; the message
    calls the setting ``what`` (default: its name)."""
    value = getattr(owner, name)
    if value not in options:
        raise ValueError(f"unknown {what or name} {value!r}; expected one of {options}")


def lr_drop(lr_drop_at: int, lr_drop: float) -> None:
    """Raise ``ValueError`` unless the step of the learning-rate drop is ≥ 0 and its factor > 0."""
    if lr_drop_at < 0:
        raise ValueError(f"lr_drop_at must be a step >= 0 (0: no drop), got {lr_drop_at}")
    if not lr_drop > 0:
        raise ValueError(f"lr_drop must be positive, got {lr_drop}")
