"""The records of a resumable training run: the learning-rate schedule (a function of the step
alone), the checkpoint every trainer writes (:func:`run_record`), and the checks and restores of a
resume (:func:`check_resume`, :func:`restore_generators`). The file itself is
:mod:`funknn.checkpoints`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from .. import distributed
from ..checkpoints import hardware, model_record, stored_config
from ..models.protocols import Configured

__all__ = ["StepConfig", "check_resume", "learning_rate", "restore_generators", "run_record"]


class StepConfig(Protocol):
    """What :func:`funknn.engine.run_adam` reads of a training configuration (a dataclass)."""

    steps: int
    lr: float
    seed: int
    checkpoint_every: int
    lr_drop_at: int
    lr_drop: float


def learning_rate(config: StepConfig, step: int) -> float:
    """The learning rate of step ``step`` (counted from 0): ``lr``, times ``lr_drop`` from
    ``lr_drop_at`` on (a function of the step alone, so a resumed run follows it exactly).

    Example:
        >>> from types import SimpleNamespace
        >>> config = SimpleNamespace(lr=1.0, lr_drop_at=2, lr_drop=0.5)
        >>> [learning_rate(config, s) for s in range(4)]
        [1.0, 1.0, 0.5, 0.5]
    """
    dropped = 0 < config.lr_drop_at <= step
    return config.lr * (config.lr_drop if dropped else 1.0)


def _comparable(value: object) -> object:
    """Lists as tuples: a setting read back from a file compares equal to the dataclass's."""
    return tuple(value) if isinstance(value, list) else value


def check_resume(record: dict, checkpoint: str | Path, model: nn.Module, settings: dict,
                 defaults: dict | None = None) -> None:
    """Raise ``ValueError`` unless the checkpoint ``record`` continues this run: the same model
    (complete configs), the same training ``settings`` (``steps`` may change; a setting an older
    file lacks counts as its ``defaults`` value) and the optimiser state present (not a file
    written by :func:`funknn.checkpoints.release`). Every trainer of the package checks with it."""
    mine_model = model.config if isinstance(model, Configured) else None
    if stored_config(record) != mine_model:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: it holds a model with config "
                         f"{stored_config(record)}, not {mine_model}")
    saved = {**(defaults or {}), **record.get("train_config", {})}
    differ = [k for k in settings
              if k != "steps" and _comparable(saved.get(k)) != _comparable(settings[k])]
    if differ:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: training settings {differ} differ")
    if "optimizer" not in record:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: it holds weights only (written by "
                         "funknn.checkpoints.release); train from scratch with resume=False / --restart")


def run_record(model: nn.Module, *, step: int, optimizer: dict, states: list, settings: dict,
               history: dict, meta: dict | None, layout: dict) -> dict:
    """The checkpoint of a training run at ``step``, in the layout every trainer writes: the
    model (:func:`funknn.checkpoints.model_record`), optimiser state(s), step, every part's
    random-generator state (``generator``: part 0's), the training settings, the history, and
    ``meta`` (the caller's, plus steps, settings, the data-parallel ``layout``, wall seconds,
    hardware and torch version)."""
    return {**model_record(model), "optimizer": optimizer, "step": step, "generator": states[0],
            "generators": states, "train_config": settings, "history": history,
            "meta": {**(meta or {}), "steps": step, "train_config": settings, **layout,
                     "wall_seconds": round(history["seconds"], 1), "hardware": hardware(),
                     "torch": str(torch.__version__)}}


def restore_generators(record: dict, checkpoint: str | Path, generators: list[torch.Generator],
                       parallel: distributed.Parallel) -> None:
    """Set this process's parts' generators from a training checkpoint; raises ``ValueError``
    when it was written by a run with another number of parts (``world_size × accumulate``)."""
    states = record.get("generators", [record["generator"]])
    if len(states) != parallel.parts:
        raise ValueError(f"cannot resume from {str(checkpoint)!r}: it was written by a run of {len(states)} "
                         f"part(s) per step (world_size × accumulate) and this run has {parallel.parts} "
                         f"(world_size {parallel.world_size} × accumulate {parallel.accumulate}); resume "
                         f"with the same product, e.g. --accumulate {len(states)} in one process")
    for g, p in zip(generators, parallel.my_parts):
        g.set_state(states[p])
