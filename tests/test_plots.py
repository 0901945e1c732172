"""`nnfit plot`: the files and the paths printed, valid images of the stated sizes, the same bytes twice, the
pictures drawing what the model predicts (XOR's quadrants pixel by pixel), the overlay of runs, and every
mistake a user can make as one `Error:` line with nothing written."""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nnfit import figures, plotdata
from nnfit.dataset import Split
from nnfit.plots import render
from nnfit.rundir import RunDir
from nnfit.style import class_colours, class_labels, lighter

from conftest import REPO, blobs, run_cli, write_config, write_csv

# the sizes docs/plots.md states, in pixels
SIZES = {"learning-curves": (1100, 450), "predicted-vs-actual": (650, 650), "residuals": (800, 500),
         "fitted-curve": (800, 500), "confusion-matrix": (750, 650), "roc": (650, 650),
         "decision-regions": (850, 650)}
EXAMPLES = {  # config, --set overrides that keep the suite quick, the pictures expected
    "digits": (["train.epochs=3"], ["learning-curves", "confusion-matrix"]),
    "sine": (["train.epochs=30"], ["learning-curves", "predicted-vs-actual", "residuals", "fitted-curve"]),
    "xor": ([], ["learning-curves", "confusion-matrix", "roc", "decision-regions"]),
    "linear": ([], ["learning-curves", "predicted-vs-actual", "residuals"]),
}


def train(config, out, *overrides):
    args = ["train", config, "--out", out, "--quiet"]
    for item in overrides:
        args += ["--set", item]
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The run directory of a shipped example, trained once for the module."""
    folder, runs = tmp_path_factory.mktemp("examples"), {}

    def get(name):
        if name not in runs:
            runs[name] = train(REPO / f"configs/{name}.yaml", folder / name, *EXAMPLES[name][0])
        return runs[name]

    return get


@pytest.fixture(scope="module")
def plotted(example):
    """`nnfit plot` of a shipped example, run once for the module: (run directory, result)."""
    results = {}

    def get(name):
        if name not in results:
            run = example(name)
            results[name] = run, run_cli("plot", run)
        return results[name]

    return get


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, content) of every chunk, after checking the signature and each chunk's CRC."""
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        (n,), kind = struct.unpack(">I", data[i:i + 4]), data[i + 4:i + 8]
        content = data[i + 8:i + 8 + n]
        assert struct.unpack(">I", data[i + 8 + n:i + 12 + n])[0] == zlib.crc32(kind + content)
        chunks.append((kind, content))
        i += 12 + n
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def check_png(path, name):
    """A whole PNG of the stated size, with no text or time in it, that decodes to a picture (not a blank)."""
    from matplotlib.image import imread

    chunks = png_chunks(path.read_bytes())
    assert struct.unpack(">II", chunks[0][1][:8]) == SIZES[name]
    assert not {kind for kind, _ in chunks} & {b"tEXt", b"iTXt", b"zTXt", b"tIME"}
    pixels = (imread(path) * 255).round().astype(np.uint32)  # (height, width, 4) RGBA
    assert pixels.shape == (*SIZES[name][::-1], 4)
    packed = pixels[..., 0] << 24 | pixels[..., 1] << 16 | pixels[..., 2] << 8 | pixels[..., 3]
    assert len(np.unique(packed)) > 50  # a picture, not a blank


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_gets_its_pictures_and_the_paths_are_printed(plotted, name):
    run, result = plotted(name)
    assert result.exit_code == 0, result.stderr
    expected = [run / "plots" / f"{picture}.png" for picture in EXAMPLES[name][1]]
    assert result.stdout == "".join(f"{p}\n" for p in expected)
    assert sorted(p.name for p in (run / "plots").iterdir()) == sorted(p.name for p in expected)
    for path in expected:
        check_png(path, path.stem)


def test_the_same_run_gives_the_same_bytes(plotted, tmp_path, monkeypatch):
    run, first = plotted("xor")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # from another folder: the titles name files, not paths from here
    again = run_cli("plot", run, "--out", tmp_path)
    assert again.exit_code == 0, again.stderr
    for path in first.stdout.split():
        assert open(path, "rb").read() == (tmp_path / path.rsplit("/", 1)[1]).read_bytes(), path


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_svg_and_pdf_are_the_same_bytes_too_and_of_the_stated_size(example, fmt):
    fit = plotdata.load_fit(plotdata.read_run(example("xor")))
    picture = figures.FIGURES["decision-regions"]
    data = render(picture, fit, fmt)[0]
    assert data == render(picture, fit, fmt)[0]
    width, height = (v * 72 / 100 for v in SIZES["decision-regions"])  # points
    if fmt == "svg":
        assert data.startswith(b"<?xml") and f'width="{width:g}pt" height="{height:g}pt"'.encode() in data
    else:
        assert data.startswith(b"%PDF-") and f"/MediaBox [ 0 0 {width:g} {height:g} ]".encode() in data


def test_format_is_taken_in_capitals_too(example, tmp_path):
    result = run_cli("plot", example("linear"), "--out", tmp_path / "out", "--format", "SVG")
    assert result.exit_code == 0, result.stderr
    written = sorted(Path(p) for p in result.stdout.split())
    assert written == sorted((tmp_path / "out").iterdir()) and len(written) == 3
    assert {p.suffix for p in written} == {".svg"}


def test_without_matplotlib_one_line_and_nothing_written(example, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    result = run_cli("plot", example("linear"), "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == "Error: nnfit plot needs matplotlib: pip install 'nnfit[plot]'\n"
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_other_commands_never_import_matplotlib(tiny, tmp_path):
    config, csv = tiny
    commands = [["--help"], ["plot", "--help"], ["check", str(config)],
                ["train", str(config), "--out", str(tmp_path / "run"), "-q"],
                ["predict", str(tmp_path / "run"), str(csv), "-o", str(tmp_path / "p.csv")],
                ["evaluate", str(tmp_path / "run"), str(csv)]]
    code = ("import sys\nfrom nnfit.cli import cli\n"
            f"for args in {commands!r}:\n"
            "    try:\n        cli.main(args, prog_name='nnfit')\n"
            "    except SystemExit as e:\n        assert not e.code, (args, e.code)\n"
            "    assert 'matplotlib' not in sys.modules, args\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tmp_path)


def pixel(image, fig, point):
    """The RGB colour at a data point of the figure's first axes in the saved image."""
    x, y = fig.axes[0].transData.transform(point)
    return image[int(round(image.shape[0] - y)), int(round(x)), :3]


def probes(fit, fig, candidates, clearance=12.0):
    """The candidate points whose pixel is at least `clearance` pixels from every row's marker."""
    ax = fig.axes[0]
    shown = ax.transData.transform(fit.inputs)
    at = ax.transData.transform(candidates)
    far = np.min(np.linalg.norm(at[:, None, :] - shown[None, :, :], axis=2), axis=1) > clearance
    return candidates[far]


def test_xor_decision_regions_show_the_models_predictions_in_each_quadrant(plotted):
    from matplotlib.image import imread

    run, result = plotted("xor")
    assert result.exit_code == 0, result.stderr
    image = imread(run / "plots/decision-regions.png")
    fit = plotdata.load_fit(plotdata.read_run(run))
    data, fig = render(figures.FIGURES["decision-regions"], fit)
    assert data == (run / "plots/decision-regions.png").read_bytes()  # the figure measured is the file's
    colours = figures.probability_colours()
    negative, positive = (np.array(lighter(c)) for c in class_colours(2))
    steps = np.linspace(0.5, 1.6, 12)
    for sx, sy in [(1, 1), (-1, -1), (1, -1), (-1, 1)]:
        grid = np.array([(sx * a, sy * b) for a in steps for b in steps])
        points = probes(fit, fig, grid)
        assert len(points) >= 5, (sx, sy)
        frame = pd.DataFrame(points, columns=["x1", "x2"])
        X, _ = fit.model.prep.transform(frame, "probes", fit.model.dtype)
        labels, proba = fit.model.predict(X)  # as `nnfit predict` gives them
        assert set(labels) == {1 if sx == sy else -1}  # the network learned XOR
        for point, label, p in zip(points, labels, proba[:, 1]):
            seen = pixel(image, fig, point)
            np.testing.assert_allclose(seen, colours(p)[:3], atol=0.03, err_msg=str(point))
            nearer = positive if np.abs(seen - positive).sum() < np.abs(seen - negative).sum() else negative
            assert nearer is (positive if label == 1 else negative), point


def test_multiclass_decision_regions_colour_each_place_by_its_predicted_class(tmp_path):
    """Probes all over the picture, on a problem with no symmetry, so a flipped or transposed grid shows."""
    from matplotlib.image import imread

    write_csv(tmp_path / "b.csv", blobs(n=300, seed=3, noise=0.8))
    config = write_config(tmp_path / "b.yaml", {"task": "multiclass", "data": {"train": "b.csv", "target": "label"},
                                                "model": {"hidden": [8]}, "train": {"epochs": 30, "learning_rate": 0.1}})
    run = train(config, tmp_path / "run")
    fit = plotdata.load_fit(plotdata.read_run(run))
    data, fig = render(figures.FIGURES["decision-regions"], fit)
    (tmp_path / "d.png").write_bytes(data)
    image = imread(tmp_path / "d.png")
    (x0, x1), (y0, y1) = fig.axes[0].get_xlim(), fig.axes[0].get_ylim()
    rng = np.random.default_rng(0)
    inner = rng.uniform(0.05, 0.95, size=(400, 2))  # clear of the axes' edges, where the spines are drawn
    points = probes(fit, fig, np.array([x0, y0]) + inner * np.array([x1 - x0, y1 - y0]))
    d = 0.02 * np.array([x1 - x0, y1 - y0])  # a probe's neighbours, to stay off the borders
    around = np.concatenate([points + np.array(o) * d for o in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]])
    X, _ = fit.model.prep.transform(pd.DataFrame(around, columns=["x0", "x1"]), "probes", fit.model.dtype)
    labels = fit.model.predict(X)[0].reshape(5, -1)
    inside = (labels == labels[0]).all(axis=0)
    assert inside.sum() > 100 and len(set(labels[0][inside])) == 3
    palette = {label: np.array(lighter(c)) for label, c in zip(fit.model.prep.classes, class_colours(3))}
    for point, label in zip(points[inside], labels[0][inside]):
        np.testing.assert_allclose(pixel(image, fig, point), palette[label], atol=0.02, err_msg=str(point))


def tiny_run(tmp_path, name, **train_settings):
    if not (tmp_path / "d.csv").exists():
        write_csv(tmp_path / "d.csv", blobs(n=200, seed=1))
    config = write_config(tmp_path / f"{name}.yaml", {
        "task": "multiclass", "data": {"train": "d.csv", "target": "label"}, "model": {"hidden": [8]},
        "train": {"epochs": 8, "batch_size": 16, "learning_rate": 0.1, **train_settings}})
    return train(config, tmp_path / "runs" / name)


def test_two_runs_overlaid_in_one_figure_labelled_by_run(tmp_path):
    slow, fast = tiny_run(tmp_path, "slow", learning_rate=0.01), tiny_run(tmp_path, "fast", learning_rate=0.3)
    result = run_cli("plot", slow, fast)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{tmp_path / 'runs/plots/learning-curves.png'}\n"  # beside the runs
    check_png(tmp_path / "runs/plots/learning-curves.png", "learning-curves")
    runs = [plotdata.read_run(slow), plotdata.read_run(fast)]
    data, fig = render(figures.COMPARISONS["learning-curves"], plotdata.compare(runs))
    assert data == (tmp_path / "runs/plots/learning-curves.png").read_bytes()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["slow (learning_rate 0.01)", "fast (learning_rate 0.3)"]
    assert "train.learning_rate" in fig.get_suptitle()
    loss_axes, metric_axes = fig.axes[:2]
    for run in runs:  # each run's own numbers, validation solid and training dashed, in one colour
        h = run.history
        own = [line for line in loss_axes.lines if len(line.get_xdata()) == len(h)
               and np.array_equal(line.get_ydata(), h.valid_loss)]
        assert len(own) == 1 and own[0].get_linestyle() == "-"
        dashed = [line for line in loss_axes.lines if np.array_equal(line.get_ydata(), h.train_loss)]
        assert len(dashed) == 1 and dashed[0].get_linestyle() == "--"
        assert dashed[0].get_color() == own[0].get_color()
        assert any(np.array_equal(line.get_ydata(), h.accuracy) for line in metric_axes.lines)
    colours = {line.get_color() for line in loss_axes.lines}
    assert len(colours) == 2


def test_many_runs_overlaid_keep_their_panels_and_the_legend_tells_them_apart(tmp_path):
    """Ten runs that differ in the learning rate, and one that differs in four more keys: every label names
    the learning rate, no two labels are the same, the figure grows instead of squashing the panels, and the
    title wraps within the figure."""
    rates = [0.01 * 1.5 ** i for i in range(10)]
    runs = [tiny_run(tmp_path, f"experiment_with_a_long_name_{i:02d}", learning_rate=r) for i, r in enumerate(rates)]
    runs.append(tiny_run(tmp_path, "other", learning_rate=0.05, batch_size=32, optimizer="adam", weight_decay=0.001,
                         momentum=0.5))
    views = [plotdata.read_run(run) for run in runs]
    _, two = render(figures.COMPARISONS["learning-curves"], plotdata.compare(views[:2]))
    _, fig = render(figures.COMPARISONS["learning-curves"], plotdata.compare(views))
    labels = [t.get_text() for t in fig.legends[0].get_texts()][:len(runs)]
    assert len(set(labels)) == len(runs) and all("learning_rate " in label for label in labels), labels
    height = [f.axes[0].get_window_extent().height for f in (two, fig)]
    assert height[1] >= 0.95 * height[0] and fig.get_figheight() > two.get_figheight(), height
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width and "\n" in fig.get_suptitle()
    wide = plotdata.read_run(tiny_run(tmp_path, "EXPERIMENT_WITH_MOMENTUM_AND_WEIGHT_DECAY_RUN_NUMBER_WWW_MMM"))
    _, fig = render(figures.FIGURES["confusion-matrix"], plotdata.load_fit(wide))  # capitals: wider than most
    title = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width, (title, fig.get_suptitle())


def test_a_run_of_one_epoch_gets_whole_epoch_ticks(tmp_path):
    run = plotdata.read_run(tiny_run(tmp_path, "one", epochs=1))
    _, fig = render(figures.FIGURES["learning-curves"], SimpleNamespace(run=run))
    for ax in fig.axes[:2]:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert 1 in ticks and all(float(t).is_integer() for t in ticks), ticks


def test_a_finished_run_whose_metrics_csv_was_cut_short_says_so(tmp_path):
    run = tiny_run(tmp_path, "cut")
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join(lines[:4]))  # the header and 3 of the 8 epochs
    _, fig = render(figures.FIGURES["learning-curves"], SimpleNamespace(run=plotdata.read_run(run)))
    assert "learning curves (metrics.csv holds 3 of the 8 epochs run)" in fig.get_suptitle()


def test_text_is_drawn_as_written_dollar_signs_included(tmp_path):
    """matplotlib reads $...$ as a formula: a label '$\\foo$' stopped the picture with a traceback, and 'cost $5'
    lost its dollar sign."""
    classes = ("$\\foo$", "cost $5")
    write_csv(tmp_path / "d.csv", blobs(n=120, seed=3, classes=classes).rename(columns={"x0": "size $m^2$"}))
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "d.csv", "target": "label"},
                                                "train": {"epochs": 3}})
    run = train(config, tmp_path / "run$x$")
    result = run_cli("plot", run)
    assert result.exit_code == 0, result.stderr
    fit = plotdata.load_fit(plotdata.read_run(run))
    _, fig = render(figures.FIGURES["decision-regions"], fit)
    assert fig.axes[0].get_xlabel() == "size $m^2$" and fig.get_suptitle().startswith("run$x$: ")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(classes)


@pytest.mark.parametrize("classes", [tuple(f"class_with_a_long_name_{i:02d}" for i in range(20)),
                                     tuple(range(100, 360, 10))], ids=["20 long names", "26 numbers"])
def test_confusion_matrix_labels_never_overlap_and_counts_keep_their_room(tmp_path, classes):
    write_csv(tmp_path / "d.csv", blobs(n=30 * len(classes), seed=4, classes=classes))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "d.csv", "target": "label"},
                                                "model": {"hidden": [8]}, "train": {"epochs": 2}})
    fit = plotdata.load_fit(plotdata.read_run(train(config, tmp_path / "run")))
    _, fig = render(figures.FIGURES["confusion-matrix"], fit)
    ax, renderer = fig.axes[0], fig.canvas.get_renderer()
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        labels = [t for t in labels if t.get_text()]
        assert len(labels) == len(classes)
        angle = np.radians(labels[0].get_rotation())
        if angle == 0:
            boxes = [t.get_window_extent(renderer) for t in labels]
            assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:])), [t.get_text() for t in labels]
        else:  # slanted lines of text: apart by the ticks' spacing times the sine of the slant
            spacing = ax.get_window_extent(renderer).width / len(classes)
            assert spacing * np.sin(angle) >= labels[0].get_fontsize() * fig.dpi / 72 * 1.1
    cell = ax.get_window_extent(renderer).width / len(classes)
    numbers = [t for t in ax.texts if t.get_text()]
    if len(classes) <= figures.CELL_NUMBERS:
        assert len(numbers) == len(classes) ** 2 and min(t.get_fontsize() for t in numbers) >= 8
        assert cell >= 28, cell
    else:
        assert numbers == []


def test_learning_curves_mark_the_kept_epoch_and_the_early_stop_and_use_a_log_scale_when_needed(tmp_path):
    run = tiny_run(tmp_path, "es", epochs=200, learning_rate=0.5, early_stopping={"patience": 3})
    view = plotdata.read_run(run)
    assert view.stop_reason == "early_stopping" and len(view.history) < 200
    fit = plotdata.load_fit(view)
    _, fig = render(figures.FIGURES["learning-curves"], fit)
    loss_axes = fig.axes[0]
    legend = [t.get_text() for t in loss_axes.get_legend().get_texts()]
    assert f"weights kept: epoch {view.summary['epoch_kept']}" in legend
    assert "early stop: 3 epochs without improvement" in legend
    vertical = {line.get_label(): line.get_xdata()[0] for line in loss_axes.lines if len(set(line.get_xdata())) == 1
                and len(line.get_xdata()) == 2}
    assert vertical[f"weights kept: epoch {view.epoch_kept}"] == view.history.valid_loss.idxmin() + 1
    assert vertical["early stop: 3 epochs without improvement"] == len(view.history)
    losses = np.r_[view.history.train_loss, view.history.valid_loss]
    assert loss_axes.get_yscale() == ("log" if losses.max() > 100 * losses.min() else "linear")
    assert "stopped early after" in fig.get_suptitle()


def test_the_r2_panel_is_cut_at_minus_one_only_when_part_of_the_curve_stays_in_view(tmp_path):
    """Far-off early epochs are cut off the R² axis; a run whose R² stays below -1 throughout keeps its curve.
    Errors in the target's units are written as the axes write them (11,127, not 1.113e+04)."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 200)
    write_csv(tmp_path / "prices.csv", pd.DataFrame({"size": x, "price": 2e5 + 1e4 * x + rng.normal(0, 1e3, 200)}))
    for name, rate, cut in (("learning", 1e-6, True), ("stuck", 1e-10, False)):  # the target unscaled
        config = write_config(tmp_path / f"{name}.yaml", {
            "task": "regression", "data": {"train": "prices.csv", "target": "price", "scale_target": False},
            "model": {"hidden": [4]}, "train": {"epochs": 30, "learning_rate": rate, "optimizer": "sgd"}})
        view = plotdata.read_run(train(config, tmp_path / name))
        r2 = view.history["r2"].to_numpy()
        _, fig = render(figures.FIGURES["learning-curves"], plotdata.load_fit(view))
        low, high = fig.axes[1].get_ylim()
        assert (r2.min() < -1) and (r2.max() < -1) != cut, (name, r2.min(), r2.max())
        assert ("axis cut" in fig.axes[1].get_ylabel()) == cut
        assert low <= (-1.05 if cut else r2.min()) and high >= r2.max(), (name, low, high, r2)
    _, fig = render(figures.FIGURES["residuals"], plotdata.load_fit(view))  # stuck: errors of 200,000
    assert re.search(r"; mean\xa0residual\xa0-?[\d,.]+, RMSE\xa0\d{1,3}(,\d{3})+$", fig.get_suptitle()), fig.get_suptitle()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]  # the residuals' axis writes them so too
    assert all(re.fullmatch(r"(−?\d{1,3}(,\d{3})+|0)", t) for t in ticks), ticks
    assert fig.axes[0].yaxis.get_offset_text().get_text() == ""  # no '1e5' in a corner


def test_tick_labels_of_prices_in_the_millions_never_touch(tmp_path):
    """1,250,000 is wider than matplotlib's locator allows a label: on the square predicted-against-actual
    picture its ticks ran together (1,000,0001,250,000...)."""
    x = np.linspace(0, 1, 120)
    write_csv(tmp_path / "flats.csv", pd.DataFrame({"surface": x, "price": 5e4 + 1.7e6 * x}))
    config = write_config(tmp_path / "flats.yaml", {"task": "regression", "model": {"hidden": []},
                                                    "data": {"train": "flats.csv", "target": "price"},
                                                    "train": {"epochs": 300, "learning_rate": 0.1, "batch_size": "full"}})
    fit = plotdata.load_fit(plotdata.read_run(train(config, tmp_path / "run")))
    _, fig = render(figures.FIGURES["predicted-vs-actual"], fit)
    renderer = fig.canvas.get_renderer()
    boxes = sorted((t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels() if t.get_text()),
                   key=lambda box: box.x0)
    texts = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(boxes) >= 3 and all(a.x1 + 4 <= b.x0 for a, b in zip(boxes, boxes[1:])), texts


def test_pictures_drawn_at_once_in_forked_copies_are_the_bytes_drawn_one_by_one(example):
    """render_all draws the pictures after the first in forked copies of the process (on Linux, with two
    cores or more): the same bytes; a copy that fails leaves its picture to the process itself, which draws it
    (and raises its error, if it has one)."""
    from nnfit.errors import DataError
    from nnfit.plots import render_all

    fit = plotdata.load_fit(plotdata.read_run(example("xor")))
    pictures = [(figures.FIGURES[name], fit) for name in EXAMPLES["xor"][1]]
    one_by_one = [render(picture, fit)[0] for picture, fit in pictures]
    assert render_all(pictures) == one_by_one
    me = os.getpid()

    def only_here(fig, subject):  # fails in a copy, draws in this process
        if os.getpid() != me:
            raise RuntimeError("a copy failed")
        figures.roc(fig, subject)

    def never(fig, subject):
        raise DataError("d.csv: no rows to draw")

    roc = figures.FIGURES["roc"]
    flaky = figures.Picture(only_here, roc.size)
    assert render_all([pictures[0], (flaky, fit)]) == [one_by_one[0], render(roc, fit)[0]]
    with pytest.raises(DataError, match="no rows to draw"):
        render_all([pictures[0], (figures.Picture(never, roc.size), fit)])


def test_forking_copies_never_loses_a_signal_nor_a_copy(example, monkeypatch):
    """A signal that comes as a copy is forked is held back until the copy is on record, then raised: the copies
    are killed and collected, none left running. A fork that fails leaves its picture to the process."""
    import errno
    import signal

    from nnfit.plots import render_all

    fit = plotdata.load_fit(plotdata.read_run(example("xor")))
    pictures = [(figures.FIGURES[name], fit) for name in EXAMPLES["xor"][1]]
    one_by_one = [render(picture, fit)[0] for picture, fit in pictures]
    real_fork, forked = os.fork, []

    def cannot():
        raise OSError(errno.EAGAIN, "no more processes")

    monkeypatch.setattr(os, "fork", cannot)
    assert render_all(pictures) == one_by_one

    class Stop(Exception):
        pass

    def stop(signum, frame):
        raise Stop

    def fork_then_signal():
        pid = real_fork()
        if pid:
            forked.append(pid)
            os.kill(os.getpid(), signal.SIGTERM)  # as if it came during the fork
        return pid

    monkeypatch.setattr(os, "fork", fork_then_signal)
    before = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stop):
            render_all(pictures)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert forked
    for pid in forked:
        with pytest.raises(ChildProcessError):  # collected: neither running nor a zombie
            os.waitpid(pid, os.WNOHANG)


def test_laying_out_once_gives_the_pixels_of_savefigs_own_layout(example):
    """render lays a PNG out itself and saves it with the layout fixed, to spare savefig's second draw: the
    file must be the one savefig makes from the constrained layout on its own."""
    import io

    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nnfit.plots import METADATA
    from nnfit.style import DPI, PALETTE, RC

    fit = plotdata.load_fit(plotdata.read_run(example("xor")))
    for name in ("learning-curves", "confusion-matrix", "decision-regions"):
        picture = figures.FIGURES[name]
        with matplotlib.style.context("default"), matplotlib.rc_context(
                {**RC, "axes.prop_cycle": matplotlib.cycler(color=PALETTE)}):
            fig = Figure(figsize=picture.inches(fit), dpi=DPI, layout="constrained")
            FigureCanvasAgg(fig)
            picture.draw(fig, fit)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=DPI, metadata=METADATA["png"])
        assert render(picture, fit)[0] == buffer.getvalue(), name


def test_log_axes_are_labelled_as_matplotlib_would_in_plain_text():
    """10⁻² rather than $\\mathdefault{10^{-2}}$: the same labels at the same ticks, without math text."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from nnfit.ticks import log_scale_on

    labels = {}
    for plain in (False, True):
        fig = Figure()
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.plot([1, 2, 3], [0.004, 0.3, 20])
        log_scale_on(ax, "y") if plain else ax.set_yscale("log")
        fig.canvas.draw()
        labels[plain] = [t.get_text() for t in ax.get_yticklabels() + ax.yaxis.get_minorticklabels()]
    assert {"10⁻²", "10⁻¹", "10⁰", "10¹"} <= set(labels[True]) and not any("$" in t for t in labels[True])
    as_mathtext = ["" if not t else f"$\\mathdefault{{{t[:2]}^{{{t[2:]}}}}}$" for t in
                   (t.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")) for t in labels[True])]
    assert as_mathtext == labels[False]


def test_learning_curves_of_a_run_still_training(tmp_path, example):
    run = tmp_path / "partial"
    shutil.copytree(example("digits"), run, ignore=shutil.ignore_patterns("plots"))
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "summary.json").write_text(json.dumps({"state": "running"}))
    for epochs in (2, 0):
        (run / "metrics.csv").write_text("".join(lines[:1 + epochs]))
        with RunDir(run).locked():  # as `nnfit train` holds it
            fit = plotdata.load_fit(plotdata.read_run(run))
        _, fig = render(figures.FIGURES["learning-curves"], fit)
        assert f"still training: {epochs} of 3 epochs done" in fig.get_suptitle()
        assert max(len(line.get_xdata()) for line in fig.axes[0].lines) == epochs
        _, fig = render(figures.FIGURES["confusion-matrix"], fit)  # a saved fit picture says whose weights drew it
        assert fig.get_suptitle().startswith(f"partial (still training; the weights of epoch {fit.model.epoch_kept}):")
    fit = plotdata.load_fit(plotdata.read_run(run))
    _, fig = render(figures.FIGURES["learning-curves"], fit)
    assert "stopped unfinished (killed?) after 0 of 3 epochs" in fig.get_suptitle()  # no process holds it
    _, fig = render(figures.FIGURES["confusion-matrix"], fit)
    assert fig.get_suptitle().startswith(f"partial (unfinished; the weights of epoch {fit.model.epoch_kept}):")
    _, fig = render(figures.FIGURES["confusion-matrix"], plotdata.load_fit(plotdata.read_run(example("digits"))))
    assert fig.get_suptitle().startswith("digits: confusion matrix")
    result = run_cli("plot", run)  # with the header of metrics.csv alone
    assert result.exit_code == 0, result.stdout
    assert "the run stopped before it finished (killed?)" in result.stderr  # predict's warning
    check_png(run / "plots/learning-curves.png", "learning-curves")


def test_default_rows_are_the_runs_validation_rows_and_data_chooses_others(example):
    run = plotdata.read_run(example("digits"))
    fit = plotdata.load_fit(run)
    split = Split(fit.X, fit.model.prep.target_array(fit.target, fit.model.dtype), fit.target, "")
    kept = run.history.set_index("epoch").loc[run.epoch_kept]
    assert fit.model.score(split)["loss"] == kept.valid_loss  # exactly the rows the run validated on
    assert fit.source.startswith("287 validation rows (the hold-out) of ") and fit.source.endswith("digits_train.csv")
    other = plotdata.load_fit(run, REPO / "data/digits_test.csv")
    assert len(other.target) == 360 and other.source.startswith("360 rows of ")
    assert np.mean(other.predicted == other.target) == pytest.approx(json.loads(
        (run.path / "summary.json").read_text())["test"]["accuracy"])


def test_fitted_curve_of_a_network_without_hidden_layers_is_a_straight_line(tmp_path):
    x = np.linspace(-2, 3, 60)
    write_csv(tmp_path / "l.csv", pd.DataFrame({"dose_mg": x, "effect": 2 * x + np.sin(3 * x)}))
    config = write_config(tmp_path / "l.yaml", {"task": "regression", "data": {"train": "l.csv", "target": "effect"},
                                                "model": {"hidden": []}, "train": {"epochs": 20}})
    fit = plotdata.load_fit(plotdata.read_run(train(config, tmp_path / "run")))
    _, fig = render(figures.FIGURES["fitted-curve"], fit)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("dose_mg", "effect")
    curve = [line for line in ax.lines if line.get_label() == "the network's prediction"][0]
    xs, ys = curve.get_xdata(), curve.get_ydata()
    slope = np.diff(ys) / np.diff(xs)
    np.testing.assert_allclose(slope, slope[0], rtol=1e-4)
    frame = pd.DataFrame({"dose_mg": xs[[0, -1]]})
    predicted, _ = fit.model.predict(fit.model.prep.transform(frame, "ends", fit.model.dtype)[0])
    np.testing.assert_allclose(ys[[0, -1]], predicted, rtol=1e-5)  # the line is the model's


def test_a_date_column_is_drawn_on_a_calendar_axis(tmp_path):
    day = pd.Timestamp("2015-03-01") + pd.to_timedelta(np.arange(0, 2900, 29), unit="D")
    write_csv(tmp_path / "s.csv", pd.DataFrame({"day": day.strftime("%Y-%m-%d"), "sales": np.arange(len(day)) % 7}))
    config = write_config(tmp_path / "s.yaml", {"task": "regression", "model": {"hidden": [4]}, "train": {"epochs": 2},
                                                "data": {"train": "s.csv", "target": "sales", "types": {"day": "date"}}})
    fit = plotdata.load_fit(plotdata.read_run(train(config, tmp_path / "run")))
    _, fig = render(figures.FIGURES["fitted-curve"], fit)
    years = {t.get_text() for t in fig.axes[0].get_xticklabels()}
    assert {"2016", "2018", "2020", "2022"} <= years, years  # not 16,500 days since 1970


def test_class_labels_stay_short_and_tell_the_classes_apart():
    assert class_labels([0, 1, "b"]) == ["0", "1", "b"]
    long = [f"species_{i}_with_a_long_name" for i in range(3)]
    short = class_labels(long, width=14)
    assert len(set(short)) == 3 and all(len(s) <= 14 for s in short)
    assert class_labels(["x" * 30 + "a", "x" * 30 + "b"], width=10) == ["xxxx…xxxxa", "xxxx…xxxxb"]
    shared = [f"Department of extremely long names: {name} ({i})" for i, name in enumerate(["alpha", "epsilon", "mu"])]
    assert class_labels(shared) == ["…alpha (0)", "…epsilon (1)", "…mu (2)"]  # the words they all begin with go


def test_plot_then_train_force_replaces_the_run_and_its_pictures(tmp_path):
    run = tiny_run(tmp_path, "again")
    assert run_cli("plot", run).exit_code == 0
    result = run_cli("train", tmp_path / "again.yaml", "--out", run, "--force", "-q")
    assert result.exit_code == 0, result.stderr
    assert not (run / "plots").exists()


def error_cases(tmp_path):
    """(arguments, the one line expected, the folder that must not appear)."""
    reg = tiny_run(tmp_path, "cls")
    write_csv(tmp_path / "r.csv", pd.DataFrame({"x": np.arange(30.0), "y": np.arange(30.0) ** 0.5}))
    regression = train(write_config(tmp_path / "r.yaml", {"task": "regression", "data": {"train": "r.csv", "target": "y"},
                                                         "train": {"epochs": 2}}), tmp_path / "runs/reg")
    write_csv(tmp_path / "no_target.csv", blobs(n=20, seed=2).drop(columns="label"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    moved = tmp_path / "moved"
    shutil.copytree(reg, moved)
    changed = tmp_path / "changed"
    shutil.copytree(reg, changed)
    cfg = (moved / "config.yaml").read_text()
    (moved / "config.yaml").write_text(cfg.replace(str(tmp_path / "d.csv"), str(tmp_path / "gone.csv")))
    write_csv(tmp_path / "d2.csv", blobs(n=200, seed=9))
    (changed / "config.yaml").write_text(cfg.replace(str(tmp_path / "d.csv"), str(tmp_path / "d2.csv")))
    return [
        (["missing"], "missing: run directory not found", "missing"),
        (["empty"], "empty: config.yaml not found; is this an nnfit run directory?", "empty/plots"),
        ([reg, "--data", "no_target.csv"], "no_target.csv: target column 'label' not found", "runs/cls/plots"),
        ([reg, "--format", "jpeg"], "--format: unknown 'jpeg' (choose from: png, svg, pdf", "runs/cls/plots"),
        ([moved], "moved: its training file cannot be read again: gone.csv: file not found (data.train in the "
                  "config); choose the rows to draw with --data CSV", "moved/plots"),
        ([changed], "changed: the training file d2.csv changed since the run (its sha256 differs from "
                    "model.json's), so the rows the run validated on cannot be rebuilt; choose the rows to draw "
                    "with --data CSV", "changed/plots"),
        ([reg, regression], "runs/cls is a multiclass run and runs/reg a regression one: their learning curves "
                            "cannot share axes; draw them separately", "runs/plots"),
        ([reg, moved, "--data", "no_target.csv"], "--data: chooses the rows of one run's fit pictures", "plots"),
        ([reg, "runs/cls/"], "runs/cls: given twice; give each run once", "runs/cls/plots"),
        ([reg, "--out", "file.txt"], "--out file.txt: is a file, not a folder", "file.txt/learning-curves.png"),
        ([reg, "--out", "file.txt/sub"], "file.txt/sub: cannot write the pictures: Not a directory", "file.txt/sub"),
        ([reg, "--out", ""], "--out: an empty path; give the folder for the pictures", "learning-curves.png"),
        ([reg, "--data", "-"], "--data: standard input is not read here; give a CSV file", "runs/cls/plots"),
        (["file.txt"], "file.txt: is a file, not a run directory", "plots"),
    ]


def test_mistakes_get_one_line_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args, expected, absent in error_cases(tmp_path):
        args = [str(a).replace(str(tmp_path) + "/", "") for a in args]
        result = run_cli("plot", *args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert result.stdout == ""
        assert re.fullmatch(r"Error: [^\n]+\n", result.stderr) and expected in result.stderr, (args, result.stderr)
        assert not (tmp_path / absent).exists(), args


def test_docs_state_every_picture_and_its_size():
    text = (REPO / "docs/plots.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z-]+)\.png` \| .* \| (\d+ x \d+) \|$", text, re.M))
    assert rows == {name: f"{w} x {h}" for name, (w, h) in SIZES.items()}
    from nnfit.style import DPI

    # the sizes of a run of a few short classes, and of two runs: sizes that grow do so from these
    fit = SimpleNamespace(model=SimpleNamespace(prep=SimpleNamespace(classes=["no", "yes"])))
    two = plotdata.Comparison([SimpleNamespace(name="a"), SimpleNamespace(name="b")], ["a", "b"], ["train.seed"])
    assert {name: tuple(round(s * DPI) for s in p.inches(fit)) for name, p in figures.FIGURES.items()} == SIZES
    assert {name: tuple(round(s * DPI) for s in p.inches(two)) for name, p in figures.COMPARISONS.items()} == {
        "learning-curves": SIZES["learning-curves"]}


def test_help_names_the_pictures_and_the_extra():
    result = run_cli("plot", "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout and "nnfit[plot]" in result.stdout
