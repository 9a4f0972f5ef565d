"""The figures the book's chapters repeat: image rows and grids with enlarged crops, error maps,
loss curves, bars.

Each function draws one matplotlib figure. In a notebook (matplotlib's inline backend) it shows
the figure at once and returns ``None``, so a cell reads ``plotting.image_row(...)`` and the
figure appears exactly once (nbval executes cells without history, where a trailing ``;`` does
not hide a returned figure, which would then appear twice). Under any other backend (scripts,
tests) it returns the figure.

Images are tensors (or arrays) of shape ``(C, H, W)``, ``(H, W)`` or, for a batch,
``(N, C, H, W)``; one channel is drawn in grey on ``[0, 1]``, three as RGB (clamped to ``[0, 1]``).
Nothing here is needed by the library's solvers or trainers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["to_display", "crop", "draw", "image_row", "image_rows", "image_grid", "error_maps", "map_grid",
           "smooth", "loss_curves", "loss_panels", "solve_curves", "grouped_bars", "value_bars",
           "paper_vs_ours"]


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


def _shown(fig: Figure) -> Figure | None:
    """Show ``fig`` and return ``None`` under the inline backend; return ``fig`` otherwise."""
    import matplotlib

    if "inline" in matplotlib.get_backend():
        plt.show()
        return None
    return fig


def draw(ax: Any, image: Any, title: str | None = None, fontsize: float = 9, **imshow: Any) -> Any:
    """One image on an axis of a figure of one's own, as the functions here draw it (grey on
    ``[0, 1]`` for one channel, no ticks); returns the ``AxesImage``.

    >>> fig, ax = plt.subplots()
    >>> draw(ax, np.zeros((4, 6)), "zeros").get_array().shape
    (4, 6)
    """
    a = to_display(image, clamp=imshow.pop("clamp", True))
    options: dict[str, Any] = {"interpolation": "nearest"}
    if a.ndim == 2 and "cmap" not in imshow:
        options.update(cmap="gray", vmin=0, vmax=1)
    handle = ax.imshow(a, **{**options, **imshow})
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    return handle


def image_row(images: Mapping[str, Any], crops: bool = False, corner: tuple[float, float] = (0.35, 0.35),
              size: float = 0.3, panel: float = 2.2, fontsize: float = 8, title: str | None = None,
              **imshow: Any) -> Figure | None:
    """One image per column, titled by its key; with ``crops`` an enlarged crop of each below.

    The images may have different resolutions: the crop is the same region of each.
    """
    return image_rows([images], crops=crops, corner=corner, size=size, panel=panel, fontsize=fontsize,
                      title=title, **imshow)


def _panels(rows: Any) -> list[list[tuple[str | None, str | None, Any]]]:
    """:func:`image_rows`' rows as lists of ``(title, column, image)``."""
    items: list[list[tuple[str | None, str | None, Any]]]
    if isinstance(rows, Mapping):
        items = [[(f"{label}: {name}", name, im) for name, im in row.items()] for label, row in rows.items()]
    else:
        items = [[(str(name), str(name), im) for name, im in row.items()] if isinstance(row, Mapping)
                 else [(None, None, im) for im in row] for row in rows]
    if not items or not all(items):
        raise ValueError("image_rows needs at least one image in every row")
    return items


def _put(ax: Any, image: Any, name: str | None, fontsize: float, signed: bool, imshow: dict) -> None:
    """One panel of :func:`image_rows`: a signed map (red-blue, symmetric) or an image."""
    ax.axis("on")
    if signed:
        vmax = float(np.abs(_array(image)).max()) or 1.0
        draw(ax, image, name, fontsize, clamp=False, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    else:
        draw(ax, image, name, fontsize, **imshow)


def image_rows(rows: Sequence[Mapping[str, Any] | Sequence[Any]] | Mapping[str, Mapping[str, Any]],
               crops: bool | str = False, corner: tuple[float, float] = (0.35, 0.35), size: float = 0.3,
               panel: float = 2.2, fontsize: float = 8, title: str | None = None,
               labels: Sequence[str] | None = None, signed: Sequence[int] = (),
               **imshow: Any) -> Figure | None:
    """Several rows of images in one figure (rows may differ in length; empty cells stay blank).

    Args:
        rows: a sequence of rows, each ``{title: image}`` or a sequence of untitled images (a batch
            ``(N, C, H, W)`` too); or ``{row label: {column: image}}``, whose panels are titled
            ``"row label: column"``.
        crops: ``True`` or ``"below"``: each row's enlarged crops (:func:`crop`, the same region at
            any resolution) on a line below it; ``"right"``: to the right of the row, titled
            ``"crop, column"``.
        labels: written left of each row.
        signed: columns (0-based) that hold signed maps (derivatives, differences): drawn
            unclamped in a red-blue map symmetric about zero, each on its own largest magnitude.
        **imshow: passed to ``imshow`` for the other panels.
    """
    if crops not in (False, True, "below", "right"):
        raise ValueError(f"crops must be False, True, 'below' or 'right', got {crops!r}")
    items = _panels(rows)
    below, right = crops in (True, "below"), crops == "right"
    per, width = (2 if below else 1), max(len(row) for row in items)
    ncols = 2 * width if right else width
    fig, axes = plt.subplots(per * len(items), ncols, squeeze=False,
                             figsize=(panel * ncols, (panel + 0.4) * per * len(items)))
    for ax in axes.flat:
        ax.axis("off")

    def put(ax: Any, image: Any, name: str | None, column: int) -> None:
        _put(ax, image, name, fontsize, column in signed, imshow)

    for r, row in enumerate(items):
        for c, (name, column, image) in enumerate(row):
            put(axes[per * r, c], image, name, c)
            if below:
                put(axes[per * r + 1, c], crop(image, corner, size), None, c)
            elif right:
                put(axes[r, len(row) + c], crop(image, corner, size),
                    None if column is None else f"crop, {column}", c)
        if labels is not None:
            axes[per * r, 0].set_ylabel(labels[r], fontsize=fontsize + 1)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _shown(fig)


def image_grid(images: Any, ncols: int = 8, titles: Sequence[str] | None = None, title: str | None = None,
               panel: float = 1.3, fontsize: float = 8, **imshow: Any) -> Figure | None:
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
        draw(ax, image, titles[k] if titles else None, fontsize, **imshow)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _shown(fig)


def error_maps(outputs: Mapping[str, Any], truth: Any, quantile: float = 0.99, panel: float = 2.4,
               fontsize: float = 8, cmap: str = "magma") -> Figure | None:
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
    return _shown(fig)


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
                ax: Any = None) -> Figure | None:
    """One smoothed curve per run (``{label: losses per step}``) on one axis."""
    own = ax is None
    if own:
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
    return _shown(fig) if own else fig


def grouped_bars(table: Any, columns: Sequence[str], ylabel: str, title: str | None = None,
                 margin: float = 2.0, figsize: tuple[float, float] = (9, 3.6),
                 ncol: int = 4) -> Figure | None:
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
    return _shown(fig)


def value_bars(values: Any, xlabel: str = "", colors: Sequence[Any] | None = None, margin: float = 1.5,
               digits: int = 2, figsize: tuple[float, float] = (8, 3.2)) -> Figure | None:
    """One horizontal bar per entry of ``values`` (``{label: value}`` or a pandas series), top
    to bottom in its order, each labelled with its value (``digits`` decimals); the x axis
    starts ``margin`` below the smallest value."""
    items = list(values.items())
    if not items:
        raise ValueError("value_bars needs at least one value")
    labels, v = [str(k) for k, _ in items][::-1], np.asarray([x for _, x in items], dtype=float)[::-1]
    fig, ax = plt.subplots(figsize=figsize)
    ax.barh(labels, v, color=list(colors)[::-1] if colors is not None else None)
    ax.set(xlabel=xlabel, xlim=(float(np.nanmin(v)) - margin, None))
    for y, x in enumerate(v):
        ax.text(x, y, f" {x:.{digits}f}", va="center", fontsize=8)
    return _shown(fig)


def _per_panel(option: Any, name: str, default: Any) -> Any:
    """``option`` itself, or its entry for panel ``name`` when it is a mapping (else ``default``)."""
    return option.get(name, default) if isinstance(option, Mapping) else option


def loss_panels(panels: Mapping[str, Mapping[str, Sequence[float]]], window: int | None = None,
                ylabel: str | Mapping[str, str] = "loss", log: bool | Mapping[str, bool] = True,
                raw: bool = False, panel: tuple[float, float] = (4.0, 2.8)) -> Figure | None:
    """Training losses of several runs side by side: one axis per run, titled by its key.

    Args:
        panels: ``{run: {curve label: losses per step}}`` (:func:`loss_curves` draws each axis).
        window: the moving mean's window; ``None``: a fortieth of the panel's longest curve.
        ylabel, log: one for every panel, or ``{run: value}`` (runs left out: ``"loss"``, log scale).
        raw: draw the per-step losses too, faintly (the smoothed curves are then labelled with
            their window).
        panel: the size of one axis, in inches.
    """
    if not panels:
        raise ValueError("loss_panels needs at least one run")
    fig, axes = plt.subplots(1, len(panels), figsize=(panel[0] * len(panels), panel[1]), squeeze=False)
    for ax, (name, curves) in zip(axes[0], panels.items()):
        w = window or max(1, max(len(v) for v in curves.values()) // 40)
        if raw:
            for label, values in curves.items():
                ax.plot(np.asarray(values, dtype=np.float64), alpha=0.3, label=f"{label}, per step")
            curves = {f"{label}, mean of {w} steps": v for label, v in curves.items()}
        loss_curves(curves, window=w, ylabel=_per_panel(ylabel, name, "loss"), title=name,
                    log=_per_panel(log, name, True), ax=ax)
        if raw:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _shown(fig)


def map_grid(maps: Mapping[str, Mapping[str, Any]], scales: Mapping[str, Mapping[str, Any]] | None = None,
             titles: Mapping[str, Mapping[str, str]] | Callable[[str, str, Any], str] | None = None,
             colorbar: bool | str = False,
             panel: float = 3.3, fontsize: float = 9, title: str | None = None) -> Figure | None:
    """Scalar maps (an image, its gradient norm, its Laplacian, errors): one row per outer key,
    one column per inner key; every map ``(H, W)`` (or ``(1, H, W)``), drawn unclamped.

    Args:
        maps: ``{row: {column: map}}``, e.g. ``{"ground truth": {...}, "FunkNN": {...}}``.
        scales: ``{column: imshow options}`` (``cmap``, ``vmin``, ``vmax``; an option may be a
            function of the panel's map, e.g. ``vmax=lambda m: np.quantile(m, 0.99)``;
            ``colorbar=False`` keeps that column's panels without one). A column left out is
            drawn in viridis from the minimum to the maximum of its map in the *first* row (the
            reference, so that every row is seen on the truth's scale).
        titles: ``{row: {column: title}}`` for the panels that need one other than ``"row: column"``
            (``column`` alone in a row whose key is ``""``), or a function ``(row, column, map) → title``.
        colorbar: ``True``: a colorbar beside every panel; a string: one colorbar for the whole
            figure with that label (the panels should share a scale).

    >>> truth = {"image": np.eye(4), "Laplacian": np.eye(4) - 2}
    >>> fig = map_grid({"truth": truth, "model": {k: 0.9 * v for k, v in truth.items()}})
    >>> [ax.get_title() for ax in fig.axes][:3], fig.axes[1].images[0].get_clim()
    (['truth: image', 'truth: Laplacian', 'model: image'], (-2.0, -1.0))
    """
    if not maps or not all(maps.values()):
        raise ValueError("map_grid needs at least one row of at least one map")
    first = next(iter(maps.values()))
    ncols = max(len(r) for r in maps.values())
    fig, axes = plt.subplots(len(maps), ncols, figsize=(panel * ncols, panel * len(maps)), squeeze=False)
    handle = None
    for r, (row, columns) in enumerate(maps.items()):
        for c, (column, image) in enumerate(columns.items()):
            a = to_display(image, clamp=False)
            if column in (scales or {}):
                options = dict((scales or {})[column])
            else:
                ref = to_display(first.get(column, image), clamp=False)
                options = {"cmap": "viridis", "vmin": float(ref.min()), "vmax": float(ref.max())}
            own_bar = options.pop("colorbar", True)
            options = {k: v(a) if callable(v) else v for k, v in options.items()}
            ax = axes[r, c]
            handle = ax.imshow(a, **options)
            if callable(titles):
                label = titles(row, column, image)
            else:
                label = (titles or {}).get(row, {}).get(column, f"{row}: {column}" if row else column)
            ax.set_title(label, fontsize=fontsize)
            if colorbar is True and own_bar:
                fig.colorbar(handle, ax=ax, shrink=0.8)
    for ax in axes.flat:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    if isinstance(colorbar, str) and handle is not None:
        fig.colorbar(handle, ax=list(axes.flat), shrink=0.8, label=colorbar)
    else:
        fig.tight_layout()
    return _shown(fig)


def solve_curves(histories: Mapping[str, Mapping[str, Any]], per_image: str | None = "grey",
                 start: float | None = None, ax: Any = None, ylabel: str = "SNR (dB)",
                 xlabel: str = "step", title: str | None = None,
                 figsize: tuple[float, float] = (5, 3)) -> Figure | None:
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
    own = ax is None
    if own:
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
    return _shown(fig) if own else fig


def paper_vs_ours(points: Mapping[str, Sequence[tuple[float, float]]], unit: str = "dB",
                  title: str | None = None, figsize: tuple[float, float] = (4.6, 4.2)) -> Figure | None:
    """Our numbers against the paper's: one scatter series per group (``{group: [(paper, ours), …]}``)
    and the diagonal where they agree. Pairs with a missing number (``None``, NaN) are left out.

    >>> fig = paper_vs_ours({"Table 1": [(32.6, 30.1), (28.2, None)], "Figure 8": [(19.1, 17.0)]})
    >>> [len(c.get_offsets()) for c in fig.axes[0].collections]
    [1, 1]
    """
    fig, ax = plt.subplots(figsize=figsize)
    drawn = []
    for group, pairs in points.items():
        xy = np.array([p for p in pairs if None not in p], dtype=float).reshape(-1, 2)
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy):
            ax.scatter(xy[:, 0], xy[:, 1], s=22, label=group)
            drawn.append(xy)
    if drawn:
        values = np.concatenate(drawn)
        low, high = values.min() - 1, values.max() + 1
        ax.plot([low, high], [low, high], color="0.6", lw=1, ls="--", zorder=0, label="ours = paper's")
        ax.set(xlim=(low, high), ylim=(low, high))
        ax.legend(fontsize=7, loc="upper left")
    suffix = f" ({unit})" if unit else ""
    ax.set(xlabel=f"the paper's{suffix}", ylabel=f"ours{suffix}")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return _shown(fig)
