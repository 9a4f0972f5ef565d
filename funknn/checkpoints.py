"""The checkpoint file: one ``torch.save`` dict, written atomically, read with
``weights_only=True``.

A file holds ``format`` (:data:`FORMAT`), the package ``version`` that wrote it, the model's
class name and complete constructor arguments (``model_class``, ``model_config``), its
``state_dict`` and free-form ``meta`` (training command, data, steps, wall time, hardware).
A training checkpoint (:class:`funknn.engine.Loop`) adds the optimiser and random-generator
state, the step, the training settings and the loss history, so that a run can resume;
:func:`release` removes those again.

Example:
    >>> import tempfile, pathlib
    >>> from funknn.models import build
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.pt"
    >>> save(build("funknn", in_channels=1, network="mlp"), path, data="nothing")
    >>> model = load(path)
    >>> model.config["network"], model.meta["data"]
    ('mlp', 'nothing')
"""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .models.protocols import Configured
from .version import __version__

#: the file format written by :func:`save`; a file of another format is refused
FORMAT = "funknn-checkpoint-v1"


def write_file_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, flushed to disk, then renamed over
    ``path``: a reader (or a crash) never sees a half-written file. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_atomic(record: dict[str, Any], path: str | Path) -> None:
    """``torch.save(record)`` to ``path`` atomically (:func:`write_file_atomic`)."""
    write_file_atomic(path, lambda tmp: torch.save(record, tmp))


def hardware() -> str:
    """One line naming the machine (GPU name when CUDA is used, else the CPU)."""
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def model_record(model: nn.Module) -> dict[str, Any]:
    """The part of a file that rebuilds ``model``: class name, complete config, weights (CPU)."""
    from .models import model_class

    name = type(model).__name__
    try:
        model_class(name)
    except ValueError as err:
        raise TypeError(f"cannot save a {name}: {err}") from err
    if not isinstance(model, Configured) or not isinstance(model.config, dict):
        raise TypeError(f"cannot save a {name}: it has no config of constructor arguments")
    config = model.config
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"format": FORMAT, "version": __version__, "model_class": name, "model_config": dict(config),
            "state_dict": state}


def save(model: nn.Module, path: str | Path, **meta: Any) -> None:
    """Write a model to ``path`` atomically: class, constructor arguments, weights, package
    version and free-form metadata."""
    write_atomic({**model_record(model), "meta": dict(meta)}, path)


def _major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return -1


def check_version(record: dict[str, Any], path: str | Path = "<record>") -> None:
    """Raise ``ValueError`` unless ``record`` is a funknn checkpoint this version can read:
    the same :data:`FORMAT`, written by a package of the same major version."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a funknn checkpoint (expected format {FORMAT})")
    written = str(record.get("version", "?"))
    if _major(written) != _major(__version__):
        raise ValueError(f"checkpoint {str(path)!r} was written by funknn {written}; this is funknn "
                         f"{__version__}, which reads files of major version {_major(__version__)} only")


def read(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint file as a dict (on the CPU); clear errors for a missing, corrupt,
    foreign or incompatible file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"checkpoint {str(path)!r} is unreadable or corrupt: {err}") from err
    check_version(record, path)
    return record


def stored_config(record: dict[str, Any]) -> dict[str, Any]:
    """The complete constructor arguments of the model in ``record`` (arguments that older files
    left out take their defaults)."""
    from .models import complete_config, model_class

    return complete_config(model_class(str(record.get("model_class", ""))), dict(record["model_config"]))


def load(path: str | Path, device: torch.device | str | None = None) -> nn.Module:
    """Rebuild a model from a checkpoint written by :func:`save` or :func:`funknn.train`.

    Returns:
        The model in eval mode, with the file's metadata as ``model.meta`` and the training
        step (if any) as ``model.meta["step"]``.
    """
    from .models import model_class

    record = read(path)
    try:
        cls = model_class(str(record.get("model_class", "")))
    except ValueError as err:
        raise ValueError(f"checkpoint {str(path)!r} holds an unknown model: {err}") from err
    model = cls(**stored_config(record))
    try:
        model.load_state_dict(record["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {str(path)!r} does not match its model: {err}") from err
    meta = dict(record.get("meta", {}))
    if "step" in record:
        meta["step"] = record["step"]
    model.meta = meta  # type: ignore[assignment]  # nn.Module takes plain attributes
    return model.to(device).eval() if device is not None else model.eval()


def release(src: str | Path, dst: str | Path | None = None) -> Path:
    """Write a training checkpoint without its optimiser and random-generator state.

    What remains is the model, its metadata (command, steps, wall time …) and the loss history:
    everything :func:`load` needs, at a third of the size for Adam (the shipped baselines are
    stored this way). Such a file cannot be resumed; retrain with its command instead.

    Args:
        src: a checkpoint written by :func:`funknn.train`.
        dst: output file (default: overwrite ``src``, atomically).
    """
    record = read(src)
    kept = {k: v for k, v in record.items() if k not in ("optimizer", "generator")}
    kept["meta"] = {**kept.get("meta", {}), "released": "optimiser and generator state removed"}
    out = Path(dst) if dst is not None else Path(src)
    write_atomic(kept, out)
    return out
