"""The checkpoints a chapter studies: where they are read or written, what produced them, and
loading one checked against the chapter's settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from funknn.checkpoints import load, read
from funknn.pretrained import checkpoint_dir, pretrained_path

__all__ = ["checkpoint_path", "budget_path", "training_meta", "provenance", "training_minutes",
           "load_checked"]


def checkpoint_path(stem: str, *, train: bool = False, checkpoint_dir: str | Path | None = None,
                    shipped: str | None = None, build_dir: str | Path = "../_build/checkpoints") -> Path:
    """Where a chapter's model ``stem`` is written (``train=True``) or read from.

    Args:
        stem: file name without ``.pt`` inside ``checkpoint_dir`` / ``build_dir``.
        train: the chapter trains the model: the path to write, in ``checkpoint_dir`` or else
            ``build_dir``.
        checkpoint_dir: a folder of checkpoints the user trained (read, or written with ``train``).
        shipped: the name of the shipped checkpoint to read otherwise (``None``: there is none,
            e.g. in the paper profile).

    Raises:
        ValueError: nothing to read: no shipped checkpoint and neither ``train`` nor ``checkpoint_dir``.

    >>> checkpoint_path("paper_funknn", train=True)
    PosixPath('../_build/checkpoints/paper_funknn.pt')
    >>> checkpoint_path("x", checkpoint_dir="runs")
    PosixPath('runs/x.pt')
    """
    if train or checkpoint_dir is not None:
        return Path(checkpoint_dir if checkpoint_dir is not None else build_dir) / f"{stem}.pt"
    if shipped is None:
        raise ValueError(f"no shipped checkpoint for {stem!r} in this profile: pass train=True or "
                         "checkpoint_dir=... (a folder of checkpoints you trained)")
    return pretrained_path(shipped)


def budget_path(name: str, steps: int) -> Path | None:
    """The shipped checkpoint ``name`` trained on to ``steps`` steps (``budget/<name>_steps<steps>.pt``
    beside the shipped checkpoints, made by ``make budget``), or ``None`` where there is none.

    >>> budget_path("photos_single", 10**9) is None
    True
    """
    path = checkpoint_dir() / "budget" / f"{name}_steps{steps}.pt"
    return path if path.is_file() else None


def training_meta(checkpoint: Any) -> Mapping[str, Any]:
    """The ``meta`` of a checkpoint given as a path, a loaded model (its ``.meta``) or the meta itself."""
    if isinstance(checkpoint, (str, Path)):
        return read(checkpoint)["meta"]
    if isinstance(checkpoint, Mapping):
        return checkpoint
    return getattr(checkpoint, "meta", {})


def provenance(checkpoints: Mapping[str, Any]) -> str:
    """What produced each checkpoint, one line each: the command, its steps, wall time and hardware
    (``{name: path, model or meta}``; a chapter prints it in a cell whose output nbval ignores).

    >>> print(provenance({"flow": {"command": "python -m funknn train flow", "steps": 3,
    ...                            "wall_seconds": 1.5, "hardware": "1 CPU thread"}}))
    flow: python -m funknn train flow (3 steps, 1.5 s on 1 CPU thread)
    """
    lines = []
    for name, checkpoint in checkpoints.items():
        m = training_meta(checkpoint)
        lines.append(f"{name}: {m.get('command', 'no command recorded')} ({m.get('steps')} steps, "
                     f"{m.get('wall_seconds')} s on {m.get('hardware')})")
    return "\n".join(lines)


def training_minutes(checkpoints: Any) -> float:
    """The recorded training time of the checkpoints (paths, models or metas; a mapping's values
    count), in minutes; a checkpoint without ``wall_seconds`` counts zero.

    >>> training_minutes([{"wall_seconds": 90}, {"wall_seconds": 30.0}, {}])
    2.0
    """
    items = checkpoints.values() if isinstance(checkpoints, Mapping) else checkpoints
    return sum(float(training_meta(c).get("wall_seconds") or 0) for c in items) / 60


def load_checked(path: str | Path, kind: type, device: Any = None, **expected: Any) -> Any:
    """The model of checkpoint ``path`` (:func:`funknn.load`, in eval mode), checked to be a
    ``kind`` whose attributes have the ``expected`` values; a clear error otherwise (a chapter
    given the wrong file fails at once, not in the middle of a solve).

    Raises:
        ValueError: the file holds another model, or one built for other settings.

    >>> import tempfile
    >>> from funknn.models import FunkNN
    >>> from funknn import save
    >>> path = Path(tempfile.mkdtemp()) / "f.pt"
    >>> save(FunkNN(1, network="mlp", kernel="cubic_conv"), path)
    >>> type(load_checked(path, FunkNN)).__name__
    'FunkNN'
    >>> load_checked(path, FunkNN, kernel="bicubic")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: checkpoint '...f.pt' holds a FunkNN with kernel=...; this chapter needs kernel='bicubic'
    """
    model = load(path, device=device)
    if not isinstance(model, kind):
        raise ValueError(f"checkpoint {str(path)!r} holds a {type(model).__name__}, not a {kind.__name__}")
    for name, value in expected.items():
        if getattr(model, name, None) != value:
            raise ValueError(f"checkpoint {str(path)!r} holds a {kind.__name__} with {name}="
                             f"{getattr(model, name, None)!r}; this chapter needs {name}={value!r}")
    return model
