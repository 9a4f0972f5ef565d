"""funknn.stats: bootstrap intervals with known answers, grouping by source image, seeds, verdicts."""

import numpy as np
import pytest

from funknn import stats


def test_difference_interval_covers_the_known_difference():
    rng = np.random.default_rng(0)
    hits = 0
    for trial in range(40):
        base = rng.normal(25, 3, size=40)                  # images of different difficulty, shared
        a = base + 0.8 + rng.normal(0, 0.5, size=40)
        iv = stats.bootstrap_difference(a, base, resamples=2000, seed=trial)
        assert iv.low < iv.mean < iv.high
        hits += iv.low <= 0.8 <= iv.high
    assert hits >= 33                                       # ~95% coverage, 40 trials


def test_pairing_narrows_the_interval():
    rng = np.random.default_rng(1)
    base = rng.normal(25, 3, size=50)
    a = base + 0.3 + rng.normal(0, 0.1, size=50)
    paired = stats.bootstrap_difference(a, base)
    unpaired_width = 2 * 1.96 * np.sqrt(a.var(ddof=1) / 50 + base.var(ddof=1) / 50)
    assert paired.high - paired.low < unpaired_width / 5
    assert stats.decide(paired) == "held"


def test_groups_resample_source_images_not_tiles():
    rng = np.random.default_rng(2)
    # 4 source images of 10 near-identical tiles: the evidence is 4 images, not 40
    offsets = rng.normal(0, 1, size=4)
    diff = np.repeat(offsets, 10) + rng.normal(0, 0.01, size=40)
    groups = np.repeat(["a", "b", "c", "d"], 10)
    by_tile = stats.bootstrap_difference(diff, np.zeros(40))
    by_image = stats.bootstrap_difference(diff, np.zeros(40), groups)
    assert by_image.groups == 4 and by_image.images == 40
    assert (by_image.high - by_image.low) > 2 * (by_tile.high - by_tile.low)


def test_seeds_widen_the_interval_and_are_counted():
    rng = np.random.default_rng(3)
    images = rng.normal(25, 3, size=30)
    one = stats.bootstrap_difference(images + 0.5, images)
    seeded = stats.bootstrap_difference(images[None] + 0.5 + rng.normal(0, 0.5, size=(3, 1)), images)
    assert seeded.seeds == (3, 1) and one.seeds == (1, 1)
    assert seeded.high - seeded.low > one.high - one.low
    assert "3 / 1 seeds × 30 images" == seeded.counts()


def test_spread_over_seeds():
    s = stats.spread([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    assert (s.mean, s.minimum, s.maximum, s.seeds) == (2.0, 1.0, 3.0, 3)
    assert s.std == pytest.approx(1.0)


@pytest.mark.parametrize("low, high, margin, side, expected", [
    (0.1, 0.5, 0.0, "above", "held"), (-0.4, -0.1, 0.0, "above", "not held"),
    (-0.1, 0.3, 0.0, "above", "inconclusive"), (-0.4, -0.1, -0.5, "above", "held"),
    (-0.4, -0.1, 0.0, "below", "held"), (0.1, 0.5, 0.0, "below", "not held")])
def test_decide(low, high, margin, side, expected):
    assert stats.decide(stats.Interval(0.0, low, high, 0.95, 5, 5, 1), margin, side) == expected


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="same test images"):
        stats.bootstrap_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="non-finite"):
        stats.bootstrap_mean([1.0, float("nan")])
    with pytest.raises(ValueError, match="groups"):
        stats.bootstrap_mean([1.0, 2.0], groups=["a"])
    with pytest.raises(ValueError, match="side"):
        stats.decide(stats.Interval(0, 0, 0, 0.95, 1, 1, 1), side="left")


def test_decide_every_needs_each_setting_held_and_fails_on_one_not_held():
    iv = [stats.Interval(0.3, 0.1, 0.5, 0.95, 5, 5, 1), stats.Interval(0.6, 0.25, 0.9, 0.95, 5, 5, 1)]
    assert stats.decide_every(iv) == "held"
    assert stats.decide_every(iv, margin=0.2) == "inconclusive"        # the first straddles 0.2
    assert stats.decide_every(iv, margin=0.55) == "not held"           # the first lies below it
    assert stats.decide_every(iv, margin=1.0, side="below") == "held"
    with pytest.raises(ValueError, match="at least one"):
        stats.decide_every([])


def test_place_and_decide_example_against_a_known_distribution():
    scores = np.arange(1.0, 101.0).reshape(4, 25)          # 100 scores 1..100 (seeds × images, pooled)
    p = stats.place(scores, 90.0)
    assert p["n"] == 100 and p["median"] == 50.5 and p["best"] == 100.0 and p["worst"] == 1.0
    assert p["below"] == 0.89 and p["q1"] < p["median"] < p["q3"]
    assert stats.decide_example(p) == "inconclusive"        # some of ours reach 90, the median does not
    assert stats.decide_example(stats.place(scores, 50.0)) == "held"
    assert stats.decide_example(stats.place(scores, 100.5)) == "not held"
    assert stats.place([1.0, float("nan"), 3.0], 2.0)["n"] == 2
    with pytest.raises(ValueError, match="finite"):
        stats.place([], 1.0)
    assert stats.combine(["held", "inconclusive", "held"]) == "inconclusive"
    with pytest.raises(ValueError, match="unknown verdicts"):
        stats.combine(["held", "maybe"])
