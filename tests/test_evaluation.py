"""funknn.evaluation: the tables' per-scale summaries of evaluate's results."""

import math

import pytest
import torch

from funknn.evaluation import evaluate, mean_scores
from funknn.sampling import Interpolator


def test_mean_scores_one_row_of_the_tables():
    high = torch.rand(3, 1, 32, 32)
    result = evaluate(Interpolator("bilinear"), high, 8, scales=(2, 4))
    means = mean_scores(result, "si_snr")
    assert list(means) == [2, 4] and means[4] == pytest.approx(float(result[4]["si_snr"].mean()))
    padded = mean_scores(result, "psnr", scales=(4, 8, 2))
    assert list(padded) == [4, 8, 2] and math.isnan(padded[8])      # ×8 was not evaluated
    assert padded[2] == float(result[2]["psnr"].mean()) and math.isnan(mean_scores({}, scales=(2,))[2])
    with pytest.raises(ValueError, match="metric must be one of"):
        mean_scores(result, "ssim")
