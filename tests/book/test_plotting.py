"""funknn_book.plotting: the chapters' recurring figures draw what they are given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from funknn_book import plotting  # noqa: E402


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


def test_image_rows_with_crops():
    rows = [{"a": torch.rand(3, 16, 16), "b": torch.rand(3, 32, 32)}, {"c": torch.rand(1, 20, 20)}]
    fig = plotting.image_rows(rows, crops=True, corner=(0.5, 0.5), size=0.5)
    axes = np.array(fig.axes).reshape(4, 2)
    assert [ax.get_title() for ax in axes[[0, 2], 0]] == ["a", "c"] and axes[0, 1].get_title() == "b"
    assert axes[1, 1].images[0].get_array().shape[:2] == (16, 16)       # 0.5 of 32
    assert axes[3, 0].images[0].get_array().shape == (10, 10) and not axes[2, 1].images   # blank cell
    assert not axes[2, 1].axison
    fig = plotting.image_rows([torch.rand(3, 1, 8, 8), [torch.rand(1, 8, 8)]], labels=["top", "bottom"])
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["top", "bottom"] and axes[0, 2].images
    assert axes[0, 0].get_title() == "" and not axes[1, 1].axison                # untitled; blank cell
    with pytest.raises(ValueError, match="at least one"):
        plotting.image_rows([{}])


def test_value_bars():
    fig = plotting.value_bars({"first": 20.0, "second": 24.5}, xlabel="SNR", colors=["r", "b"], margin=1.0)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["second", "first"]    # first on top
    assert [p.get_width() for p in ax.patches] == [24.5, 20.0] and ax.get_xlim()[0] == 19.0
    assert [t.get_text() for t in ax.texts] == [" 24.50", " 20.00"]
    assert ax.patches[0].get_facecolor()[:3] == (0.0, 0.0, 1.0)
    pd = pytest.importorskip("pandas")
    fig = plotting.value_bars(pd.Series({"x": 1.0, "y": 2.0}))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["y", "x"]
    with pytest.raises(ValueError, match="at least one"):
        plotting.value_bars({})


def test_loss_panels_one_axis_per_run():
    runs = {"A": {"loss": np.linspace(2, 1, 80)}, "B": {"d": [1.0] * 10, "g": [2.0] * 10}}
    fig = plotting.loss_panels(runs, ylabel={"A": "L1"}, log={"B": False}, raw=True)
    a, b = fig.axes
    assert (a.get_title(), a.get_ylabel(), a.get_yscale()) == ("A", "L1", "log")
    assert (b.get_ylabel(), b.get_yscale()) == ("loss", "linear")
    assert len(a.lines) == 2 and len(a.lines[1].get_xdata()) == 80 - 2 + 1     # window 80 // 40
    assert [t.get_text() for t in a.get_legend().get_texts()] == ["loss, per step", "loss, mean of 2 steps"]
    assert len(b.lines) == 4
    fig = plotting.loss_panels({"A": {"loss": np.ones(100)}}, window=10)
    assert len(fig.axes[0].lines) == 1 and len(fig.axes[0].lines[0].get_xdata()) == 91
    with pytest.raises(ValueError):
        plotting.loss_panels({})


def test_image_rows_with_crops_to_the_right():
    rows = {"m": {"1x": torch.rand(1, 8, 8), "2x": torch.rand(1, 16, 16)},
            "g": {"1x": torch.rand(1, 8, 8), "2x": torch.rand(1, 16, 16)}}
    fig = plotting.image_rows(rows, crops="right", corner=(0.25, 0.25), size=0.5)
    assert len(fig.axes) == 8
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == ["m: 1x", "m: 2x", "crop, 1x", "crop, 2x"] and titles[4] == "g: 1x"
    assert fig.axes[3].images[0].get_array().shape == (8, 8)                  # half of 16², to the right
    assert len(plotting.image_rows(rows).axes) == 4
    with pytest.raises(ValueError):
        plotting.image_rows({"m": {}})
    with pytest.raises(ValueError, match="crops"):
        plotting.image_rows(rows, crops="left")


def test_map_grid_scales_titles_and_colorbars():
    truth = {"image": np.eye(5), "lap": 2 * np.eye(5) - 2}
    maps = {"truth": truth, "model": {"image": 3 * np.eye(5), "lap": np.zeros((1, 5, 5))}}
    fig = plotting.map_grid(maps, titles={"model": {"image": "model: 12 dB"}})
    assert len(fig.axes) == 4 and fig.axes[2].get_title() == "model: 12 dB"
    assert fig.axes[3].get_title() == "model: lap"
    assert fig.axes[2].images[0].get_clim() == (0.0, 1.0)                     # the truth's scale
    assert fig.axes[3].images[0].get_clim() == (-2.0, 0.0)
    fig = plotting.map_grid(maps, titles=lambda row, column, m: f"{row}/{column}/{np.asarray(m).max():.0f}")
    assert [ax.get_title() for ax in fig.axes] == ["truth/image/1", "truth/lap/0", "model/image/3",
                                                   "model/lap/0"]
    fig = plotting.map_grid(maps, colorbar=True, scales={
        "image": dict(cmap="gray", vmin=0, vmax=1, colorbar=False),
        "lap": dict(cmap="magma", vmax=lambda m: float(np.abs(m).max()) + 1)})
    assert len(fig.axes) == 4 + 2                                               # bars for "lap" only
    assert fig.axes[1].images[0].get_clim()[1] == 3.0 and fig.axes[1].images[0].get_cmap().name == "magma"
    assert fig.axes[3].images[0].get_clim()[1] == 1.0                          # per panel
    fig = plotting.map_grid({"": {"a": np.ones((3, 3)), "b": np.zeros((3, 3))}}, colorbar="|error|",
                            scales={"a": dict(vmin=0, vmax=1), "b": dict(vmin=0, vmax=1)})
    assert [ax.get_title() for ax in fig.axes[:2]] == ["a", "b"] and fig.axes[-1].get_ylabel() == "|error|"
    with pytest.raises(ValueError):
        plotting.map_grid({})


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


def test_paper_vs_ours_skips_missing_and_draws_the_diagonal():
    fig = plotting.paper_vs_ours({"Table 1": [(32.6, 30.1), (28.2, None), (24.2, float("nan"))],
                                  "Figure 8": [(19.1, 17.0), (5.8, 6.1)], "empty": [(1.0, None)]},
                                 unit="dB", title="t")
    ax = fig.axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [1, 2]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Table 1", "Figure 8", "ours = paper's"]
    assert ax.get_xlim() == ax.get_ylim() == pytest.approx((4.8, 33.6))
    assert ax.get_xlabel() == "the paper's (dB)" and ax.get_title() == "t"
    assert plotting.paper_vs_ours({}, unit="").axes[0].get_ylabel() == "ours"
    plt.close("all")
