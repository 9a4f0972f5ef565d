"""funknn.plotting: the chapters' recurring figures draw what they are given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from funknn import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_to_display_and_crop():
    rgb = torch.rand(3, 8, 6) * 2 - 0.5
    a = plotting.to_display(rgb)
    assert a.shape == (8, 6, 3) and a.min() >= 0 and a.max() <= 1
    assert plotting.to_display(torch.ones(1, 8, 6)).shape == (8, 6)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        plotting.to_display(np.zeros((2, 4, 4)))
    fine, coarse = torch.arange(64.0).reshape(1, 8, 8), torch.arange(16.0).reshape(1, 4, 4)
    assert plotting.crop(fine, (0.5, 0.25), 0.5).shape == (1, 4, 4)
    assert plotting.crop(coarse, (0.5, 0.25), 0.5).shape == (1, 2, 2)     # the same region


def test_image_row_with_crops():
    fig = plotting.image_row({"a": torch.rand(3, 16, 16), "b": torch.rand(3, 32, 32)}, crops=True,
                             title="row")
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "a"
    assert fig.axes[3].images[0].get_array().shape[:2] == (9, 9)       # 0.3 of 32
    with pytest.raises(ValueError, match="at least one"):
        plotting.image_row({})


def test_image_grid_and_error_maps():
    fig = plotting.image_grid(torch.rand(5, 1, 8, 8), ncols=3, titles=list("abcde"))
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes[:5]] == list("abcde")
    truth = torch.zeros(3, 8, 8)
    fig = plotting.error_maps({"x": truth + 0.5, "y": truth + 0.1}, truth)
    err = fig.axes[0].images[0]
    assert np.allclose(err.get_array(), 0.5) and err.get_clim() == (0, pytest.approx(0.5))
    with pytest.raises(ValueError, match="shape"):
        plotting.error_maps({"x": torch.zeros(3, 4, 4)}, truth)


def test_loss_curves_and_bars():
    steps, means = plotting.smooth([1.0, 3.0, 5.0], 10)
    assert steps.tolist() == [2] and means.tolist() == [3.0]
    fig = plotting.loss_curves({"a": [1.0] * 30, "b": np.linspace(2, 1, 30)}, window=5)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and len(lines[0].get_xdata()) == 26 and fig.axes[0].get_yscale() == "log"
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"×2": [30.0, np.nan], "×4": [25.0, 26.0]}, index=["m", "n"])
    fig = plotting.grouped_bars(table, ["×2", "×4"], ylabel="SNR")
    assert len(fig.axes[0].patches) == 4 and fig.axes[0].get_ylim()[0] == 23.0


# --- additions for chapters 1 and 2 ---

# --- additions for chapters 3 and 4 ---

# --- additions for chapters 5 and 6 ---

def test_image_rows_signed_columns():
    u, du = torch.rand(1, 8, 8), torch.linspace(-3, 2, 64).reshape(8, 8)
    fig = plotting.image_rows([{"u": u, "du": du, "c": u}, {"v": u}], signed=[1], title="t")
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes[:4]] == ["u", "du", "c", "v"]
    assert fig.axes[1].images[0].get_clim() == (-3.0, 3.0)          # symmetric, unclamped
    assert fig.axes[1].images[0].get_array().min() == -3.0
    assert fig.axes[0].images[0].get_clim() == (0, 1) and not fig.axes[5].images   # a blank panel
    with pytest.raises(ValueError, match="at least one"):
        plotting.image_rows([{}])


def test_solve_curves():
    a = {"record_step": [0, 10, 20], "snr_per_image": [[1.0, 3.0], [2.0, 4.0], [3.0, 5.0]]}
    b = {"record_step": [0, 20], "snr_per_image": [[0.0, 0.0], [1.0, 1.0]]}
    fig = plotting.solve_curves({"a": a, "b": b}, start=10)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 5            # two grey images of a, the two means, the start
    assert lines[2].get_ydata().tolist() == [2.0, 3.0, 4.0] and lines[2].get_label() == "a"
    assert lines[4].get_xdata()[0] == 10
    fig = plotting.solve_curves({"a": a}, per_image="labelled")
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["image 1", "image 2"]
    with pytest.raises(ValueError, match="per_image"):
        plotting.solve_curves({"a": a}, per_image="all")


def test_draw_on_own_axis():
    fig, axes = plt.subplots(1, 2)
    handle = plotting.draw(axes[1], torch.full((1, 5, 7), 2.0), "x")
    assert handle.get_array().shape == (5, 7) and handle.get_array().max() == 1.0     # clamped
    assert axes[1].get_title() == "x" and not axes[1].get_xticks().size

# --- additions for the results at a glance ---
