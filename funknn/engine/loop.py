"""The one training loop of the package: resumable, data-parallel (:mod:`funknn.distributed`),
in mixed precision if asked, over a bundle of optimisers.

Every trainer is a :class:`Loop` and a step function: super-resolution, the autoencoder and the
flow take one Adam step per iteration (:func:`run_adam`); GASP takes a discriminator step and a
generator step (:func:`funknn.tasks.gasp.train_gasp`). The loop owns what they share: each
part's random generator, the optimisers' states, the learning-rate schedule, the history, the
progress bar, atomic checkpoints every ``checkpoint_every`` steps and at the end, and resuming
from them so that a resumed run equals an uninterrupted one.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Settings:
    ...     steps: int = 3
    ...     seed: int = 0
    ...     checkpoint_every: int = 10
    >>> model = torch.nn.Linear(2, 1)
    >>> loop = Loop(model, torch.optim.SGD(model.parameters(), lr=0.1), Settings(), progress=False)
    >>> def step(s):
    ...     def part(k, generator):
    ...         loss = model(torch.randn(4, 2, generator=generator)).square().mean()
    ...         return loss, {"loss": float(loss)}
    ...     return loop.update(part)
    >>> history = loop.run(step)
    >>> history["step"], len(history["loss"])
    ([1, 2, 3], 3)
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import distributed
from ..checkpoints import read, write_atomic
from .records import StepConfig, check_resume, learning_rate, restore_generators, run_record

__all__ = ["AMP", "Bundle", "Loop", "PartLoss", "Precision", "autocast", "optimise", "run_adam", "update"]

#: precisions of the loop's ``amp``
AMP = ("off", "bf16", "fp16")

# the loss of one part of a step: part_loss(k, generator) -> (loss to back-propagate, values to record);
# the loss already weighted (e.g. divided by the number of parts), the values summed over the parts
PartLoss = Callable[[int, torch.Generator], tuple[torch.Tensor, dict[str, float]]]


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` in the precision ``amp`` names on ``device`` (a no-op for ``"off"``)."""
    if amp == "off":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


class Precision:
    """The precision of a run's forward passes: ``amp`` ``"off"``, ``"bf16"`` or ``"fp16"``
    (:func:`autocast`), with a gradient scaler for fp16 (a pass-through otherwise)."""

    def __init__(self, device: torch.device, amp: str = "off") -> None:
        if amp not in AMP:
            raise ValueError(f"unknown amp {amp!r}; expected one of {AMP}")
        self.device, self.amp = device, amp
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")

    def context(self) -> contextlib.AbstractContextManager:
        """The autocast context of a forward pass."""
        return autocast(self.device, self.amp)


def optimise(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One optimiser step on ``loss``; returns its value."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def update(optimiser: torch.optim.Optimizer, part_loss: PartLoss, generators: Sequence[torch.Generator],
           precision: Precision | None = None) -> dict[str, float]:
    """One step of ``optimiser`` on this process's parts of a global batch: the gradients of
    ``part_loss(k, generators[k])`` summed over the parts ``k``, then averaged over the ranks of a
    torchrun run (one all-reduce; every rank takes the same step). Returns the parts' values
    summed, averaged over the ranks."""
    optimiser.zero_grad(set_to_none=True)
    totals: dict[str, float] = {}
    for k, generator in enumerate(generators):
        with precision.context() if precision is not None else contextlib.nullcontext():
            loss, values = part_loss(k, generator)
        (loss if precision is None else precision.scaler.scale(loss)).backward()
        for name, value in values.items():
            totals[name] = totals.get(name, 0.0) + value
    params = [p for group in optimiser.param_groups for p in group["params"]]
    averaged = distributed.average_gradients(params, list(totals.values()))
    if precision is None:
        optimiser.step()
    else:
        precision.scaler.step(optimiser)
        precision.scaler.update()
    return dict(zip(totals, averaged))


class Bundle:
    """The optimisers of a run, by name. A run of one optimiser stores its state as that
    optimiser's ``state_dict``; a bundle of several as ``{name: state_dict}`` (e.g. GASP's
    ``{"generator": …, "discriminator": …}``).

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> pair = Bundle({"a": torch.optim.SGD([w], lr=1.0), "b": torch.optim.Adam([w], lr=1e-3)})
        >>> sorted(pair.state_dict()), pair["b"].defaults["lr"]
        (['a', 'b'], 0.001)
    """

    def __init__(self, optimisers: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer]) -> None:
        self.single = isinstance(optimisers, torch.optim.Optimizer)
        self.optimisers = ({"": optimisers} if isinstance(optimisers, torch.optim.Optimizer)
                           else dict(optimisers))
        if not self.optimisers:
            raise ValueError("a bundle needs at least one optimiser")

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self.optimisers[name]

    def __iter__(self) -> Iterator[torch.optim.Optimizer]:
        return iter(self.optimisers.values())

    def only(self) -> torch.optim.Optimizer:
        """The one optimiser of a bundle of one; ``ValueError`` for a bundle of several."""
        if len(self.optimisers) != 1:
            raise ValueError(f"this bundle holds {len(self.optimisers)} optimisers "
                             f"{sorted(self.optimisers)}: name the one to step")
        return next(iter(self))

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every parameter group of every optimiser."""
        for optimiser in self:
            for group in optimiser.param_groups:
                group["lr"] = lr

    def state_dict(self) -> dict:
        """The optimisers' states, as the checkpoint's ``optimizer`` entry."""
        if self.single:
            return self.only().state_dict()
        return {name: optimiser.state_dict() for name, optimiser in self.optimisers.items()}

    def load_state_dict(self, state: dict, checkpoint: str | Path = "<record>") -> None:
        """Restore the states :meth:`state_dict` gave."""
        if self.single:
            self.only().load_state_dict(state)
            return
        missing = sorted(set(self.optimisers) - set(state))
        if missing:
            raise ValueError(f"cannot resume from {str(checkpoint)!r}: it holds no state of the "
                             f"optimiser(s) {missing}")
        for name, optimiser in self.optimisers.items():
            optimiser.load_state_dict(state[name])


class Loop:
    """A resumable, data-parallel training run of ``model`` with ``optimisers`` (one, or a
    :class:`Bundle` or dict of several) for ``config.steps`` steps.

    Each of this process's parts of the global batch has its own random generator
    (``generators``, seeded from ``config.seed``; part 0's by the seed itself; see
    :mod:`funknn.distributed`). Rank 0 writes atomic checkpoints every ``config.checkpoint_every``
    steps and at the end (:func:`~funknn.engine.run_record`: model, optimiser state(s),
    step, every part's generator state, settings, history, ``meta`` with the data-parallel layout,
    and the entries of ``state``). With ``resume``, a run continues from ``checkpoint`` if it
    exists, restoring all of them, so that it equals an uninterrupted one; it refuses another
    model, other settings (``steps`` may change; a setting an older file lacks counts as its
    default) or another number of parts. ``state`` is a dict that the step function may update
    in place; it is saved and restored with the run. ``amp`` is the forward passes' precision
    (:class:`Precision`), used by :meth:`update`.
    """

    def __init__(self, model: nn.Module,
                 optimisers: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer] | Bundle,
                 config: Any, *, checkpoint: str | Path | None = None, resume: bool = True,
                 progress: bool = True, meta: dict | None = None, desc: str = "train",
                 accumulate: int = 1, global_batch: int | None = None, amp: str = "off",
                 state: dict | None = None) -> None:
        self.model, self.config = model, config
        self.device = next(model.parameters()).device
        self.precision = Precision(self.device, amp)
        self.parallel = distributed.current(accumulate)
        self.generators = self.parallel.generators(config.seed)
        self.bundle = optimisers if isinstance(optimisers, Bundle) else Bundle(optimisers)
        self.checkpoint, self.resume, self.progress, self.meta, self.desc = (
            checkpoint, resume, progress, meta, desc)
        self.state = {} if state is None else state
        self.settings = dataclasses.asdict(config)
        self.layout = {"world_size": self.parallel.world_size, "accumulate": self.parallel.accumulate,
                       "parts": self.parallel.parts, "global_batch": global_batch, "amp": amp}
        self.history: dict = {}

    def update(self, part_loss: PartLoss, optimiser: torch.optim.Optimizer | None = None) -> dict[str, float]:
        """One step of ``optimiser`` (default: the bundle's only one) on this process's parts, in
        the run's precision: :func:`update` with the run's generators."""
        return update(optimiser or self.bundle.only(), part_loss, self.generators, self.precision)

    def _restore(self, keys: Sequence[str]) -> int:
        """The step to start from: the checkpoint's (its records restored) or 0."""
        self.history = {"step": [], **{k: [] for k in keys}, "seconds": 0.0}
        if self.checkpoint is None or not self.resume or not Path(self.checkpoint).is_file():
            return 0
        record = read(self.checkpoint)
        check_resume(record, self.checkpoint, self.model, self.settings,
                     defaults={f.name: f.default for f in dataclasses.fields(self.config)})
        self.model.load_state_dict(record["state_dict"])
        self.bundle.load_state_dict(record["optimizer"], self.checkpoint)
        restore_generators(record, self.checkpoint, self.generators, self.parallel)
        self.history = record["history"]
        self.state.update({k: record[k] for k in self.state if k in record})
        return int(record["step"])

    def _write(self, step: int) -> None:
        if self.checkpoint is None:          # the same on every rank
            return
        states = distributed.gather_states([g.get_state() for g in self.generators], self.parallel)
        if not self.parallel.main:
            return
        record = run_record(self.model, step=step, optimizer=self.bundle.state_dict(), states=states,
                            settings=self.settings, history=self.history, meta=self.meta, layout=self.layout)
        write_atomic({**record, **self.state}, self.checkpoint)

    def run(self, step_fn: Callable[[int], dict[str, float]], *, keys: Sequence[str] = ("loss",),
            schedule: Callable[[int], float] | None = None,
            callback: Callable[[int, dict[str, float]], None] | None = None,
            postfix: Callable[[dict[str, float]], dict[str, str]] | None = None) -> dict:
        """Run the steps left: ``step_fn(step)`` (``step`` counted from 0) takes one training
        step and returns the values that the history records under ``keys``. ``schedule(step)``
        sets every optimiser's learning rate before each step; ``callback(step, values)`` is
        called after each (``step`` counted from 1); ``postfix(values)`` is the progress bar's.

        Returns:
            History ``{"step": [...], <key>: [...] for each key, "seconds": float}``.
        """
        from tqdm.auto import tqdm

        step = self._restore(keys)
        distributed.broadcast_parameters(self.model)
        self.model.train()
        bar = tqdm(total=self.config.steps, initial=step, disable=not (self.progress and self.parallel.main),
                   desc=self.desc)
        start, elapsed0 = time.perf_counter(), self.history["seconds"]
        while step < self.config.steps:
            if schedule is not None:
                self.bundle.set_lr(schedule(step))
            values = step_fn(step)
            step += 1
            self.history["step"].append(step)
            for key in keys:
                self.history[key].append(values[key])
            self.history["seconds"] = elapsed0 + time.perf_counter() - start
            bar.update(1)
            bar.set_postfix(**(postfix(values) if postfix else {k: f"{values[k]:.4f}" for k in keys}))
            if callback is not None:
                callback(step, values)
            if step % self.config.checkpoint_every == 0 or step == self.config.steps:
                self._write(step)
        bar.close()
        self.model.eval()
        return self.history


def run_adam(model: nn.Module, config: StepConfig,
             step_loss: Callable[[torch.Generator, int, int], torch.Tensor], *,
             checkpoint: str | Path | None = None, resume: bool = True, progress: bool = True,
             meta: dict | None = None, desc: str = "train",
             callback: Callable[[int, float], None] | None = None,
             state: dict | None = None, accumulate: int = 1, global_batch: int | None = None,
             amp: str = "off") -> dict:
    """The :class:`Loop` of one Adam optimiser (``config.lr``, the schedule of
    :func:`~funknn.engine.learning_rate`), as super-resolution and the generative
    prior's parts train.

    A step sums ``step_loss(generator, k, step)`` over this process's parts ``k = 0 … accumulate
    − 1`` of the global batch, divided by the number of parts, and averages the gradients over
    the ranks of a torchrun run. ``callback(step, loss)`` is called after every step; ``amp``
    (``"off"``, ``"bf16"``, ``"fp16"``) runs the losses under ``torch.autocast`` in that
    precision (fp16 with a gradient scaler); the other arguments are :class:`Loop`'s.

    Returns:
        History ``{"step": [...], "loss": [...], "seconds": float}``.
    """
    loop = Loop(model, torch.optim.Adam(model.parameters(), lr=config.lr), config, checkpoint=checkpoint,
                resume=resume, progress=progress, meta=meta, desc=desc, accumulate=accumulate,
                global_batch=global_batch, amp=amp, state=state)
    parts = len(loop.generators)

    def step(s: int) -> dict[str, float]:
        def part(k: int, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
            loss = step_loss(generator, k, s) / parts
            return loss, {"loss": float(loss.detach())}

        return loop.update(part)

    report = None if callback is None else (lambda s, values: callback(s, values["loss"]))
    return loop.run(step, schedule=lambda s: learning_rate(config, s), callback=report)
