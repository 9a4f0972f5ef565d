"""funknn.checks: the shared argument checks name the setting and the value."""

from dataclasses import dataclass

import pytest

from funknn import checks


@dataclass
class _Settings:
    steps: int = 3
    lr: float = 0.1
    weight: float = 0.0
    size: int = 16
    loss: str = "l1"


@pytest.mark.parametrize("field, value", [("steps", 0), ("lr", -1.0), ("lr", float("nan")), ("lr", "1")])
def test_positive_names_the_field(field, value):
    settings = _Settings(**{field: value})
    with pytest.raises(ValueError, match=f"{field} must be positive, got"):
        checks.positive(settings, "steps", "lr")


def test_non_negative_at_least_and_choice():
    checks.non_negative(_Settings(), "weight")
    with pytest.raises(ValueError, match="weight must be non-negative, got -0.5"):
        checks.non_negative(_Settings(weight=-0.5), "weight")
    with pytest.raises(ValueError, match="size must be at least 8 pixels, got 4"):
        checks.at_least(_Settings(size=4), "size", 8, "pixels")
    with pytest.raises(ValueError, match=r"unknown loss function 'huber'; expected one of \('l1', 'l2'\)"):
        checks.choice(_Settings(loss="huber"), "loss", ("l1", "l2"), what="loss function")


def test_lr_drop():
    checks.lr_drop(0, 0.1)
    with pytest.raises(ValueError, match="lr_drop_at must be a step >= 0"):
        checks.lr_drop(-1, 0.1)
    with pytest.raises(ValueError, match="lr_drop must be positive"):
        checks.lr_drop(10, 0.0)
