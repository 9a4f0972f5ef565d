"""The figures the book's chapters repeat: image rows and grids with enlarged crops, error maps,
loss curves, bars. Each function draws one matplotlib figure and returns it (in a notebook the
inline backend shows it; end the line with ``;`` to keep the figure's text out of the output).

Images are tensors (or arrays) of shape ``(C, H, W)``, ``(H, W)`` or, for a batch,
``(N, C, H, W)``; one channel is drawn in grey on ``[0, 1]``, three as RGB (clamped to ``[0, 1]``).
Nothing here is needed by the library's solvers or trainers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["to_display", "crop", "image_row", "image_grid", "error_maps", "loss_curves", "smooth",
           "grouped_bars"]


def _array(image: Any) -> np.ndarray:
    if hasattr(image, "detach"):
        image = image.detach().float().cpu().numpy()
    return np.asarray(image, dtype=np.float64)


def to_display(image: Any, clamp: bool = True) -> np.ndarray:
    """``(C, H, W)`` / ``(H, W)`` tensor or array → ``(H, W)`` or ``(H, W, 3)`` array for ``imshow``.

    >>> to_display(np.ones((3, 4, 5)) * 2).shape, float(to_display(np.ones((3, 4, 5)) * 2).max())
    ((4, 5, 3), 1.0)
    >>> to_display(np.zeros((1, 4, 5))).shape
    (4, 5)
    """
    a = _array(image)
    if a.ndim == 3:
        if a.shape[0] == 1:
            a = a[0]
        elif a.shape[0] == 3:
            a = a.transpose(1, 2, 0)
        else:
            raise ValueError(f"an image has 1 or 3 channels first, got shape {a.shape}")
    elif a.ndim != 2:
        raise ValueError(f"an image is (C, H, W) or (H, W), got shape {a.shape}")
    return np.clip(a, 0, 1) if clamp else a


def crop(image: Any, corner: tuple[float, float] = (0.35, 0.35), size: float = 0.3) -> Any:
    """The square part of ``image`` (``(..., H, W)``) starting at ``corner`` (fractions of the
    height and width), ``size`` of the height on a side: the same region at any resolution.

    >>> crop(np.zeros((1, 100, 100))).shape
    (1, 30, 30)
    """
    h, w = image.shape[-2:]
    r0, c0, n = int(corner[0] * h), int(corner[1] * w), max(1, int(size * h))
    return image[..., r0:r0 + n, c0:c0 + n]


def _draw(ax: Any, image: Any, title: str | None, fontsize: float, **kwargs: Any) -> Any:
    a = to_display(image, clamp=kwargs.pop("clamp", True))
    options: dict[str, Any] = {"interpolation": "nearest"}
    if a.ndim == 2 and "cmap" not in kwargs:
        options.update(cmap="gray", vmin=0, vmax=1)
    handle = ax.imshow(a, **{**options, **kwargs})
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    return handle


def image_row(images: Mapping[str, Any], crops: bool = False, corner: tuple[float, float] = (0.35, 0.35),
              size: float = 0.3, panel: float = 2.2, fontsize: float = 8, title: str | None = None,
              **imshow: Any) -> Figure:
    """One image per column, titled by its key; with ``crops`` an enlarged crop of each below.

    The images may have different resolutions: the crop is the same region of each.
    """
    if not images:
        raise ValueError("image_row needs at least one image")
    rows = 2 if crops else 1
    fig, axes = plt.subplots(rows, len(images), figsize=(panel * len(images), panel * rows + 0.4 * rows),
                             squeeze=False)
    for c, (name, image) in enumerate(images.items()):
        _draw(axes[0, c], image, name, fontsize, **imshow)
        if crops:
            _draw(axes[1, c], crop(image, corner, size), None, fontsize, **imshow)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def image_grid(images: Any, ncols: int = 8, titles: Sequence[str] | None = None, title: str | None = None,
               panel: float = 1.3, fontsize: float = 8, **imshow: Any) -> Figure:
    """A batch ``(N, C, H, W)`` (or a sequence of images) in rows of ``ncols``."""
    images = list(images)
    if not images:
        raise ValueError("image_grid needs at least one image")
    ncols = min(ncols, len(images))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols, panel * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, image) in enumerate(zip(axes.flat, images)):
        _draw(ax, image, titles[k] if titles else None, fontsize, **imshow)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def error_maps(outputs: Mapping[str, Any], truth: Any, quantile: float = 0.99, panel: float = 2.4,
               fontsize: float = 8, cmap: str = "magma") -> Figure:
    """``|output − truth|`` (mean over channels) of each output, on one colour scale whose top is
    the ``quantile`` of all the errors (a few outliers do not wash out the rest)."""
    if not outputs:
        raise ValueError("error_maps needs at least one output")
    t = _array(truth)
    errors = {}
    for name, out in outputs.items():
        o = _array(out)
        if o.shape != t.shape:
            raise ValueError(f"output {name!r} has shape {o.shape}, the truth {t.shape}")
        e = np.abs(o - t)
        errors[name] = e.mean(0) if e.ndim == 3 else e
    vmax = max(float(np.quantile(e, quantile)) for e in errors.values())
    fig, axes = plt.subplots(1, len(errors), figsize=(panel * len(errors), panel + 0.4), squeeze=False)
    handles = []
    for ax, (name, e) in zip(axes[0], errors.items()):
        handles.append(ax.imshow(e, cmap=cmap, vmin=0, vmax=vmax))
        ax.set_title(name, fontsize=fontsize)
        ax.axis("off")
    fig.colorbar(handles[0], ax=list(axes[0]), shrink=0.8, label="|error|")
    return fig


def smooth(values: Sequence[float], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Moving mean of ``values`` over ``window`` entries: ``(steps, means)``, the step of each
    mean being its window's last (0-based).

    >>> smooth([1, 2, 3, 4], 2)
    (array([1, 2, 3]), array([1.5, 2.5, 3.5]))
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("smooth needs at least one value")
    w = max(1, min(int(window), v.size))
    return np.arange(w - 1, v.size), np.convolve(v, np.ones(w) / w, mode="valid")


def loss_curves(histories: Mapping[str, Sequence[float]], window: int = 25, ylabel: str = "loss",
                title: str | None = None, log: bool = True, figsize: tuple[float, float] = (7, 3.4),
                ax: Any = None) -> Figure:
    """One smoothed curve per run (``{label: losses per step}``) on one axis."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    for name, values in histories.items():
        steps, means = smooth(values, window)
        ax.plot(steps, means, label=name)
    ax.set(xlabel="step", ylabel=ylabel, yscale="log" if log else "linear")
    if title:
        ax.set_title(title)
    if len(histories) > 1:
        ax.legend(fontsize=8)
    return fig


def grouped_bars(table: Any, columns: Sequence[str], ylabel: str, title: str | None = None,
                 margin: float = 2.0, figsize: tuple[float, float] = (9, 3.6), ncol: int = 4) -> Figure:
    """One group of bars per column of a pandas ``table``, one bar per row (NaN: no bar); the
    y axis starts ``margin`` below the smallest value."""
    values = table[list(columns)].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=figsize)
    width = 0.8 / len(table.index)
    for k, name in enumerate(table.index):
        offset = (k - len(table.index) / 2 + 0.5) * width
        ax.bar(np.arange(len(columns)) + offset, values[k], width, label=name)
    ax.set_xticks(np.arange(len(columns)), list(columns))
    ax.set(ylabel=ylabel, ylim=(np.nanmin(values) - margin, None))
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, ncol=ncol, loc="upper right")
    return fig


# --- additions for chapters 1 and 2 ---

# --- additions for chapters 3 and 4 ---

# --- additions for chapters 5 and 6 ---

__all__ += ["draw", "image_rows", "solve_curves"]


def draw(ax: Any, image: Any, title: str | None = None, fontsize: float = 9, **imshow: Any) -> Any:
    """One image on an axis of a figure of one's own, as the functions here draw it (grey on
    ``[0, 1]`` for one channel, no ticks); returns the ``AxesImage``.

    >>> fig, ax = plt.subplots()
    >>> draw(ax, np.zeros((4, 6)), "zeros").get_array().shape
    (4, 6)
    """
    return _draw(ax, image, title, fontsize, **imshow)


def image_rows(rows: Sequence[Mapping[str, Any]], signed: Sequence[int] = (), panel: float = 2.6,
               fontsize: float = 8, title: str | None = None, **imshow: Any) -> Figure:
    """A table of images, one row per mapping ``{panel title: image}`` (the rows as wide as the
    widest; titles may differ from row to row, e.g. to carry each panel's score).

    The columns listed in ``signed`` (0-based) hold signed maps (derivatives, differences): each
    is drawn unclamped in a red-blue colour map symmetric about zero, scaled to its own largest
    magnitude. The others are drawn as in :func:`image_row`.

    >>> fig = image_rows([{"u": np.ones((4, 4)), "du": -np.ones((4, 4))}], signed=[1])
    >>> fig.axes[1].images[0].get_clim()
    (-1.0, 1.0)
    """
    if not rows or not any(rows):
        raise ValueError("image_rows needs at least one image")
    ncols = max(len(row) for row in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(panel * ncols, (panel + 0.2) * len(rows)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, row in enumerate(rows):
        for c, (name, image) in enumerate(row.items()):
            if c in signed:
                vmax = float(np.abs(_array(image)).max()) or 1.0
                _draw(axes[r, c], image, name, fontsize, clamp=False, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            else:
                _draw(axes[r, c], image, name, fontsize, **imshow)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def solve_curves(histories: Mapping[str, Mapping[str, Any]], per_image: str | None = "grey",
                 start: float | None = None, ax: Any = None, ylabel: str = "SNR (dB)",
                 xlabel: str = "step", title: str | None = None,
                 figsize: tuple[float, float] = (5, 3)) -> Figure:
    """The metric recorded during solves, one labelled solve per entry of ``histories`` (the
    ``"history"`` of :func:`funknn.inverse.solve`: ``"record_step"`` and ``"snr_per_image"``, a
    list over records of per-image values).

    Each solve is drawn as its mean over the images (a thick line). The images of the *first*
    solve, the one under study, are drawn too: ``per_image="grey"`` as thin grey lines under the
    means, ``"labelled"`` as one coloured line per image ("image 1", ...) instead of its mean,
    ``None`` not at all. ``start``: a dotted vertical line at that step (e.g. where fine-tuning
    starts).
    """
    if not histories:
        raise ValueError("solve_curves needs at least one history")
    if per_image not in ("grey", "labelled", None):
        raise ValueError(f"per_image must be 'grey', 'labelled' or None, got {per_image!r}")
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    for k, (name, history) in enumerate(histories.items()):
        steps, values = history["record_step"], np.asarray(history["snr_per_image"], dtype=np.float64)
        if k == 0 and per_image == "labelled":
            for i in range(values.shape[1]):
                ax.plot(steps, values[:, i], marker=".", label=f"image {i + 1}")
            continue
        if k == 0 and per_image == "grey":
            ax.plot(steps, values, color="0.75", lw=0.8)
        ax.plot(steps, values.mean(axis=1), color=f"C{k}", lw=2, label=name)
    if start is not None:
        ax.axvline(start, color="gray", ls=":", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


# --- additions for the results at a glance ---
