"""Uncertainty of a measured score: bootstrap intervals over test images and training seeds, and
the one rule that turns an interval into a verdict.

Scores come as arrays of shape ``(images,)`` (one model) or ``(seeds, images)`` (the same test
images scored by models trained with different seeds). Where several test images are cut from
one source image (tiles), pass ``groups`` (the source image of each test image): the bootstrap
then resamples source images, not tiles, because tiles of one photograph are not independent.

* :func:`bootstrap_mean`: the mean score and its interval.
* :func:`bootstrap_difference`: a *paired* difference of means, A − B, on the same images: each
  resample draws one set of images (or source images) for both, and the seeds of each side
  independently.
* :func:`spread`: the spread over seeds (mean, standard deviation, range of the per-seed means).
* :func:`decide`: ``"held"`` when the whole interval lies on the claimed side of the margin,
  ``"not held"`` when it lies wholly on the other side, else ``"inconclusive"``.
* :func:`decide_every`: one verdict for a claim made in several settings (scales, problems);
  :func:`combine` the same from verdicts.
* :func:`place` and :func:`decide_example`: a paper's single example (one image's score printed
  beside a figure) against our distribution over images, not against our mean.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["Interval", "Spread", "bootstrap_mean", "bootstrap_difference", "spread", "decide", "decide_every",
           "combine", "place", "decide_example", "DECISIONS"]

#: the three outcomes of :func:`decide`
DECISIONS = ("held", "not held", "inconclusive")


@dataclasses.dataclass(frozen=True)
class Interval:
    """A mean with its bootstrap confidence interval and what it rests on.

    Attributes:
        mean: the point estimate (mean over seeds and images; for a difference, of A − B).
        low, high: the interval's ends.
        level: its confidence level (0.95).
        images: number of test images; groups: number of independent source images among them;
        seeds: number of training seeds (for a difference, of each side: ``(a, b)``).
    """

    mean: float
    low: float
    high: float
    level: float
    images: int
    groups: int
    seeds: int | tuple[int, int]

    def format(self, digits: int = 2, signed: bool = False, unit: str = "") -> str:
        """``"+0.27 [−0.10, +0.61] dB"``.

        >>> Interval(0.27, -0.1, 0.61, 0.95, 7, 3, 3).format(signed=True, unit=" dB")
        '+0.27 [−0.10, +0.61] dB'
        """
        def number(x: float) -> str:
            text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
            return text.replace("-", "−")
        return f"{number(self.mean)} [{number(self.low)}, {number(self.high)}]{unit}"

    def counts(self) -> str:
        """What the interval rests on, in words: ``"3 seeds × 7 images (3 source images)"``.

        >>> Interval(0.0, 0.0, 0.0, 0.95, 7, 3, (3, 1)).counts()
        '3 / 1 seeds × 7 images (3 source images)'
        """
        seeds = " / ".join(map(str, self.seeds)) if isinstance(self.seeds, tuple) else str(self.seeds)
        noun = "seed" if seeds == "1" else "seeds"
        source = f" ({self.groups} source images)" if self.groups != self.images else ""
        return f"{seeds} {noun} × {self.images} images{source}"

    def as_dict(self, digits: int = 3) -> dict[str, Any]:
        """The interval as plain numbers (for a results file)."""
        seeds = list(self.seeds) if isinstance(self.seeds, tuple) else self.seeds
        return {"mean": round(self.mean, digits), "low": round(self.low, digits),
                "high": round(self.high, digits), "level": self.level, "images": self.images,
                "groups": self.groups, "seeds": seeds}


@dataclasses.dataclass(frozen=True)
class Spread:
    """The spread over seeds of the per-seed mean scores."""

    mean: float
    std: float
    minimum: float
    maximum: float
    seeds: int

    def format(self, digits: int = 2) -> str:
        """``"30.12 ± 0.08 (3 seeds)"`` (± one standard deviation over seeds, ddof 1).

        >>> Spread(30.123, 0.08, 30.0, 30.2, 3).format()
        '30.12 ± 0.08 (3 seeds)'
        """
        if self.seeds < 2:
            return f"{self.mean:.{digits}f} (1 seed)"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f} ({self.seeds} seeds)"


def _scores(values: Any, name: str) -> np.ndarray:
    """``values`` as a float (seeds, images) array, checked."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{name} must be scores of shape (images,) or (seeds, images), got shape "
                         f"{np.shape(values)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds {int((~np.isfinite(array)).sum())} non-finite scores (NaN or inf)")
    return array


def _groups(groups: Sequence[Any] | None, images: int) -> np.ndarray:
    """Integer labels 0..G-1 of each image's source image (each image its own without ``groups``)."""
    if groups is None:
        return np.arange(images)
    labels = list(groups)
    if len(labels) != images:
        raise ValueError(f"groups must give the source image of each of the {images} test images, got "
                         f"{len(labels)} labels")
    _, inverse = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    return inverse.reshape(-1)


def _check_level(level: float, resamples: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples}")


def _counts(picks: np.ndarray, size: int) -> np.ndarray:
    """How often each of ``size`` items is drawn in each row of ``picks`` (R, k): (R, size)."""
    rows = picks.shape[0]
    offset = picks + size * np.arange(rows)[:, None]
    return np.bincount(offset.ravel(), minlength=rows * size).reshape(rows, size).astype(float)


def _resampled_means(array: np.ndarray, labels: np.ndarray, picks: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Means of ``array`` (seeds, images) over ``picks`` (R, G) resampled groups and resampled seeds."""
    n_groups, seeds = int(labels.max()) + 1, array.shape[0]
    onehot = np.zeros((array.shape[1], n_groups))
    onehot[np.arange(array.shape[1]), labels] = 1.0
    sums = array @ onehot                                           # (S, G): per seed and group
    sizes = onehot.sum(0)                                           # images per group
    seed_weights = _counts(rng.integers(0, seeds, size=(picks.shape[0], seeds)), seeds)   # (R, S)
    group_weights = _counts(picks, n_groups)                                              # (R, G)
    total = np.einsum("rs,sg,rg->r", seed_weights, sums, group_weights)
    return total / (seeds * (group_weights @ sizes))


def bootstrap_mean(scores: Any, groups: Sequence[Any] | None = None, *, level: float = 0.95,
                   resamples: int = 10_000, seed: int = 0) -> Interval:
    """The mean score over seeds and images and its percentile bootstrap interval.

    Args:
        scores: (images,) or (seeds, images).
        groups: the source image of each test image (tiles of one photograph share a label); the
            bootstrap resamples these. ``None``: every image is independent.
        level: confidence level; resamples: bootstrap resamples; seed: the resampling's generator.

    >>> iv = bootstrap_mean([1.0, 2.0, 3.0, 4.0])
    >>> iv.mean, iv.low < iv.mean < iv.high, iv.counts()
    (2.5, True, '1 seed × 4 images')
    """
    _check_level(level, resamples)
    array = _scores(scores, "scores")
    labels = _groups(groups, array.shape[1])
    rng = np.random.default_rng(seed)
    n_groups = int(labels.max()) + 1
    picks = rng.integers(0, n_groups, size=(resamples, n_groups))
    means = _resampled_means(array, labels, picks, rng)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(array.mean()), float(low), float(high), level, array.shape[1], n_groups,
                    array.shape[0])


def bootstrap_difference(a: Any, b: Any, groups: Sequence[Any] | None = None, *, level: float = 0.95,
                         resamples: int = 10_000, seed: int = 0) -> Interval:
    """Paired bootstrap interval of mean(A) − mean(B) over the same test images.

    Each resample draws one multiset of source images (``groups``; else of images) used by both
    sides, and the training seeds of each side independently, so that the interval holds both the
    test set's and the training's randomness.

    Args:
        a, b: scores (images,) or (seeds, images) on the same images, in the same order (the seed
            counts may differ).
        groups: the source image of each test image; see :func:`bootstrap_mean`.

    >>> rng = np.random.default_rng(1)
    >>> base = rng.normal(30, 3, size=200)        # images of very different difficulty
    >>> iv = bootstrap_difference(base + 0.5 + rng.normal(0, 0.1, 200), base)
    >>> round(iv.mean, 1), iv.low > 0.4, iv.high < 0.6
    (0.5, True, True)
    """
    _check_level(level, resamples)
    first, second = _scores(a, "a"), _scores(b, "b")
    if first.shape[1] != second.shape[1]:
        raise ValueError(f"a and b must score the same test images, got {first.shape[1]} and "
                         f"{second.shape[1]} images")
    labels = _groups(groups, first.shape[1])
    rng = np.random.default_rng(seed)
    n_groups = int(labels.max()) + 1
    picks = rng.integers(0, n_groups, size=(resamples, n_groups))
    diffs = _resampled_means(first, labels, picks, rng) - _resampled_means(second, labels, picks, rng)
    tail = (1 - level) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return Interval(float(first.mean() - second.mean()), float(low), float(high), level, first.shape[1],
                    n_groups, (first.shape[0], second.shape[0]))


def spread(scores: Any) -> Spread:
    """The spread over seeds of the per-seed means of ``scores`` (seeds, images).

    >>> spread([[1.0, 3.0], [3.0, 5.0]]).format()
    '3.00 ± 1.41 (2 seeds)'
    """
    per_seed = _scores(scores, "scores").mean(axis=1)
    std = float(per_seed.std(ddof=1)) if per_seed.size > 1 else math.nan
    return Spread(float(per_seed.mean()), std, float(per_seed.min()), float(per_seed.max()), per_seed.size)


def decide(interval: Interval, margin: float = 0.0, side: str = "above") -> str:
    """The verdict on a claim "the difference lies ``side`` ``margin``" from its interval.

    ``"held"`` when the whole interval lies on the claimed side of ``margin``; ``"not held"`` when
    it lies wholly on the other side; ``"inconclusive"`` when it contains the margin.

    Args:
        interval: of the difference the claim is about (e.g. FunkNN − LIIF, in dB).
        margin: the claim's threshold (e.g. −0.5 for "within 0.5 dB of LIIF, or above").
        side: ``"above"`` (claimed: difference > margin) or ``"below"`` (claimed: < margin).

    >>> iv = Interval(0.3, 0.1, 0.5, 0.95, 8, 8, 3)
    >>> decide(iv), decide(iv, margin=0.2), decide(iv, side="below"), decide(iv, margin=-0.5)
    ('held', 'inconclusive', 'not held', 'held')
    """
    if side not in ("above", "below"):
        raise ValueError(f"side must be 'above' or 'below', got {side!r}")
    above, below = interval.low > margin, interval.high < margin
    if side == "below":
        above, below = below, above
    return DECISIONS[0] if above else DECISIONS[1] if below else DECISIONS[2]


def combine(verdicts: Iterable[str]) -> str:
    """One verdict from several: ``"held"`` when each is held, ``"not held"`` when one is not
    held, else ``"inconclusive"``.

    >>> combine(["held", "held"]), combine(["held", "inconclusive"]), combine(["inconclusive", "not held"])
    ('held', 'inconclusive', 'not held')
    """
    given = list(verdicts)
    if not given:
        raise ValueError("combine needs at least one verdict")
    unknown = [v for v in given if v not in DECISIONS]
    if unknown:
        raise ValueError(f"unknown verdicts {unknown}; expected one of {DECISIONS}")
    if all(v == DECISIONS[0] for v in given):
        return DECISIONS[0]
    return DECISIONS[1] if DECISIONS[1] in given else DECISIONS[2]


def decide_every(intervals: Iterable[Interval], margin: float = 0.0, side: str = "above") -> str:
    """One verdict for a claim made in several settings at once (e.g. at every scale): ``"held"``
    when :func:`decide` holds it in each, ``"not held"`` when it fails in at least one, else
    ``"inconclusive"``.

    >>> good, unclear = Interval(1, .5, 2, .95, 8, 8, 1), Interval(0, -1, 1, .95, 8, 8, 1)
    >>> bad = Interval(-1, -2, -.5, .95, 8, 8, 1)
    >>> decide_every([good, good]), decide_every([good, unclear]), decide_every([unclear, bad])
    ('held', 'inconclusive', 'not held')
    """
    verdicts = [decide(iv, margin, side) for iv in intervals]
    if not verdicts:
        raise ValueError("decide_every needs at least one interval")
    return combine(verdicts)


def place(scores: Any, example: float) -> dict[str, float]:
    """Where a paper's single example (one test image's score, as printed beside a figure) falls in
    our distribution of per-image scores (any shape; all entries pooled, e.g. seeds × images):
    median, quartiles, best and worst, and the share of ours below the example.

    >>> p = place([1.0, 2.0, 3.0, 4.0, 5.0], 4.5)
    >>> p["median"], p["q1"], p["best"], p["below"], p["n"]
    (3.0, 2.0, 5.0, 0.8, 5)
    """
    values = np.asarray(scores, dtype=float).ravel()
    if values.size == 0 or not np.isfinite(values).any():
        raise ValueError("place needs at least one finite score")
    values = values[np.isfinite(values)]
    q1, median, q3 = (float(x) for x in np.quantile(values, [0.25, 0.5, 0.75]))
    return {"example": float(example), "median": median, "q1": q1, "q3": q3, "best": float(values.max()),
            "worst": float(values.min()), "below": float((values < example).mean()), "n": int(values.size)}


def decide_example(placement: dict[str, float]) -> str:
    """The verdict on "we reach the paper's example" from :func:`place`: ``"held"`` when our median
    image reaches it (it is typical of ours), ``"not held"`` when even our best does not, else
    ``"inconclusive"`` (some of ours reach it).

    >>> [decide_example(place([1, 2, 3], example)) for example in (2, 2.5, 4)]
    ['held', 'inconclusive', 'not held']
    """
    if placement["median"] >= placement["example"]:
        return DECISIONS[0]
    return DECISIONS[1] if placement["best"] < placement["example"] else DECISIONS[2]
