"""The pictures of one run, one function each, and FIGURES: the table that plots.py draws from.

A new kind of picture is one function and one entry: draw(fig, subject) fills a matplotlib Figure of the
entry's size (inches, at style.DPI dots per inch; or a function of the subject, for a picture that grows with
what it shows), and shows(subject) says whether the picture applies. A
run's pictures (FIGURES) get a plotdata.Fit: the run (fit.run), its kept model and the model's outputs on the
rows drawn; pictures of several runs (COMPARISONS) get a plotdata.Comparison. The learning curves, alone and
overlaid, live in curves.py; colours and labels in style.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from .curves import compare_learning_curves, comparison_size, learning_curves
from .metrics import METRICS, confusion_matrix, roc_auc, roc_curve
from .plotdata import Fit, outputs_at
from .ticks import units
from .style import (BLUE, DPI, GREY, VERMILLION, amount, class_colours, class_labels, class_marker, lighter,
                    network_text, set_title)

GRID = 200  # the decision regions' grid: GRID x GRID points, each one model output
CURVE_POINTS = 400  # points along a fitted curve
LEGEND_CLASSES = 40  # the most classes a legend lists in the figure's height (two columns of 20)
CELL_NUMBERS = 25  # a confusion matrix of up to this many classes writes its counts in the cells
CELL_INCHES = 0.32  # the side of such a cell, at least: room for a count in 8-point type
TICK_CHAR_PIXELS = 7.5  # the width of a character of a 10-point tick label, about


@dataclass(frozen=True)
class Picture:
    draw: Callable  # draw(fig, subject): fill the figure
    size: tuple[float, float] | Callable  # (width, height) in inches (in pixels, times style.DPI), or size(subject)
    shows: Callable = lambda subject: True  # shows(subject): whether the picture applies

    def inches(self, subject) -> tuple[float, float]:
        """The figure's (width, height) for this subject."""
        return self.size(subject) if callable(self.size) else self.size


def _points(ax, fit: Fit, x, y, **style) -> None:
    idx = fit.sample()
    alpha = 0.8 if len(idx) <= 500 else 0.5
    ax.scatter(x[idx], y[idx], s=14, alpha=alpha, edgecolors="none", **style)


def _name(fit: Fit) -> str:
    """The run's name for a fit picture's title, and whose weights drew it when the run has not finished: a
    saved picture keeps what stderr said once."""
    run, kept = fit.run, fit.model.epoch_kept
    how = "still training" if run.training_now else {"running": "unfinished",
                                                      "interrupted": "interrupted", "failed": "failed"}.get(run.state)
    if kept == 0:
        return f"{run.name} (untrained weights)"
    return run.name if how is None else f"{run.name} ({how}; the weights of epoch {kept})"


def _date(fit: Fit, column: str) -> bool:
    return fit.model.prep.types.get(column) == "date"


def _shown(fit: Fit) -> str:
    n, shown = len(fit.target), len(fit.sample())
    return fit.source if shown == n else f"{fit.source}, {shown:,} of them drawn"


def _margin(lo: float, hi: float, share: float = 0.05) -> tuple[float, float]:
    pad = (hi - lo) * share if hi > lo else max(abs(lo), 1.0) * share
    return lo - pad, hi + pad


# ---- regression ----


def predicted_vs_actual(fig, fit: Fit) -> None:
    """Each row's prediction against its actual value, both in the target's own units, with the diagonal."""
    target, y, yhat = fit.model.prep.target, fit.target, fit.outputs
    ax = fig.subplots()
    _points(ax, fit, y, yhat, color=BLUE, label="a row")
    lo, hi = _margin(min(y.min(), yhat.min()), max(y.max(), yhat.max()))
    ax.plot([lo, hi], [lo, hi], color=GREY, linestyle="--", linewidth=1, label="predicted = actual")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal", xlabel=f"actual {target}", ylabel=f"predicted {target}")
    units(ax.xaxis)
    units(ax.yaxis)
    ax.legend(loc="upper left")
    r2, rmse = METRICS["regression"]["r2"](y, yhat), METRICS["regression"]["rmse"](y, yhat)
    r2 = f"R²\u00a0{r2:.3f}" if np.isfinite(r2) else "no R² (the actual values are all the same)"
    set_title(fig, _name(fit), "predicted against actual", f"{_shown(fit)}; {r2}, {amount('RMSE', rmse)}")


def residuals(fig, fit: Fit) -> None:
    """Actual minus predicted against the prediction: what the model misses, and where."""
    target, yhat = fit.model.prep.target, fit.outputs
    residual = fit.target - yhat
    ax = fig.subplots()
    _points(ax, fit, yhat, residual, color=BLUE)
    ax.axhline(0, color=GREY, linestyle="--", linewidth=1)
    ax.set(xlabel=f"predicted {target}", ylabel=f"residual: actual − predicted {target}")
    units(ax.xaxis)
    units(ax.yaxis)
    set_title(fig, _name(fit), "residuals against predicted",
              f"{_shown(fit)}; {amount('mean residual', residual.mean())}, "
              f"{amount('RMSE', np.sqrt(np.mean(residual ** 2)))}")


def fitted_curve(fig, fit: Fit) -> None:
    """The network's prediction over its one input column, through the rows' points: the course's demo."""
    column, target = fit.numeric[0], fit.model.prep.target
    x = fit.inputs[:, 0]
    ax = fig.subplots()
    _points(ax, fit, x, fit.target, color=BLUE, label=f"rows: actual {target}")
    grid = np.linspace(*_margin(x.min(), x.max()), CURVE_POINTS)
    ax.plot(grid, outputs_at(fit, grid[:, None]), color=VERMILLION, linewidth=2, label="the network's prediction")
    ax.set(xlabel=column, ylabel=target)
    units(ax.xaxis, _date(fit, column))
    units(ax.yaxis)
    ax.legend(loc="best")
    set_title(fig, _name(fit), "the fitted curve", f"{network_text(fit.model)}; points: {_shown(fit)}")


# ---- classification ----


def confusion(fig, fit: Fit) -> None:
    """Counts of actual (rows) against predicted (columns) classes, coloured by each row's share."""
    classes, target = fit.model.prep.classes, fit.model.prep.target
    K = len(classes)
    counts = np.array(confusion_matrix(fit.target, fit.outputs, K))  # (K, K) [actual][predicted]
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.grid(False)
    if K <= CELL_NUMBERS:  # beyond that, no number fits in a cell: the colours tell
        size = 12 if K <= 4 else 9 if K <= 6 else 8
        for i in range(K):
            for j in range(K):
                text = f"{counts[i, j]}\n{share[i, j]:.0%}" if K <= 12 and counts[i, j] else f"{counts[i, j]}"
                colour = "white" if share[i, j] > 0.6 else "black" if counts[i, j] else "#999999"  # zeros recede
                # inside its cell, so the layout need not measure it (K² texts, twice per layout)
                ax.text(j, i, text, ha="center", va="center", fontsize=size, linespacing=1.1, color=colour,
                        in_layout=False)
    step = max(1, -(-K // 30))  # at most 30 tick labels per axis
    labels = class_labels(classes)
    ticks = np.arange(0, K, step)
    # upright while the widest label fits between its neighbours, else slanted, else (crowded) vertical
    spacing = _matrix_inches(fig.get_size_inches(), labels) * DPI / K * step
    wide = max(len(lab) for lab in labels) * TICK_CHAR_PIXELS
    rotation = 0 if wide <= 0.9 * spacing else 45 if spacing >= 20 else 90
    ax.set_xticks(ticks, [labels[t] for t in ticks], rotation=rotation, ha="right" if rotation == 45 else "center",
                  rotation_mode="anchor" if rotation == 45 else "default")
    ax.set_yticks(ticks, [labels[t] for t in ticks])
    ax.set(xlabel=f"predicted {target}", ylabel=f"actual {target}")
    fig.colorbar(image, ax=ax, label="share of the actual class's rows", shrink=0.8)
    accuracy = np.trace(counts) / counts.sum()
    set_title(fig, _name(fit), "confusion matrix", f"{fit.source}; accuracy {accuracy:.3f}")


def _matrix_inches(figure_size, labels) -> float:
    """About how wide the confusion matrix's square is in a figure of this size (inches): what the tick labels,
    the colour bar and the title leave of it."""
    label = min(max(len(lab) for lab in labels), 20) * TICK_CHAR_PIXELS / DPI
    width, height = figure_size
    return min(width - 2.4 - label, height - 1.6 - 0.7 * label)


def confusion_size(fit: Fit) -> tuple[float, float]:
    """Room for a readable cell per class pair, CELL_INCHES a side, up to CELL_NUMBERS classes (beyond, the
    cells hold no numbers and may shrink)."""
    labels = class_labels(fit.model.prep.classes)
    label = min(max(len(lab) for lab in labels), 20) * TICK_CHAR_PIXELS / DPI
    side = CELL_INCHES * min(len(labels), CELL_NUMBERS)
    return max(7.5, side + 2.4 + label), max(6.5, side + 1.6 + 0.7 * label)


def roc(fig, fit: Fit) -> None:
    """The ROC curve over every threshold, its area, and where the predictions (P >= 0.5) sit on it."""
    negative, positive = class_labels(fit.model.prep.classes)
    target = fit.model.prep.target
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="chance (AUC 0.5)")
    auc = roc_auc(fit.target, fit.outputs)
    if np.isnan(auc):
        ax.text(0.35, 0.8, "the rows hold one class only:\nno ROC curve", ha="center", va="center")  # off the diagonal
    else:
        fpr, tpr, _ = roc_curve(fit.target, fit.outputs)
        ax.plot(fpr, tpr, color=BLUE, linewidth=2, label=f"the network (AUC {auc:.3f})")
        called = fit.outputs[:, 0] >= 0.5
        ax.plot(called[fit.target == 0].mean(), called[fit.target == 1].mean(), "o", color=VERMILLION,
                markersize=8, label="its predictions (P ≥ 0.5)")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal",
           xlabel=f"false positive rate: share of {target} = {negative} called {positive}",
           ylabel=f"true positive rate: share of {target} = {positive} found")
    ax.legend(loc="lower right")
    set_title(fig, _name(fit), "ROC curve", fit.source)


def decision_regions(fig, fit: Fit) -> None:
    """The model's output over a grid of its two input columns (binary: P(positive); else the predicted
    class), with the rows' points on top in their actual class's colour and marker."""
    (xname, yname), target, classes = fit.numeric, fit.model.prep.target, class_labels(fit.model.prep.classes)
    x, y = fit.inputs[:, 0], fit.inputs[:, 1]
    (x0, x1), (y0, y1) = _margin(x.min(), x.max()), _margin(y.min(), y.max())
    # cell centres; the image's extent is the cells' outer edges, so each cell is drawn where it was computed
    gx = x0 + (np.arange(GRID) + 0.5) * (x1 - x0) / GRID
    gy = y0 + (np.arange(GRID) + 0.5) * (y1 - y0) / GRID
    out = outputs_at(fit, np.column_stack([np.tile(gx, GRID), np.repeat(gy, GRID)]))  # row-major: [iy, ix]
    ax = fig.subplots()
    colours = class_colours(len(classes))
    extent = (x0, x1, y0, y1)
    if fit.model.task == "binary":
        p = out[:, 0].reshape(GRID, GRID)
        image = ax.imshow(p, cmap=probability_colours(), vmin=0, vmax=1, origin="lower", extent=extent,
                          aspect="auto", interpolation="nearest")
        ax.contour(gx, gy, p, levels=[0.5], colors="black", linewidths=1)
        fig.colorbar(image, ax=ax, label=f"P({target} = {classes[1]}); black line: 0.5", shrink=0.8)
        what = f"P({target} = {classes[1]}) over the inputs"
    else:
        predicted = out.argmax(axis=1).reshape(GRID, GRID)  # (G, G) [iy, ix]
        region = np.array([lighter(c) for c in colours])[predicted]  # (G, G, 3)
        ax.imshow(region, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
        for k in np.unique(predicted):  # the borders too: past 8 classes two regions may share a colour
            ax.contour(gx, gy, (predicted == k).astype(float), levels=[0.5], colors=GREY, linewidths=0.6)
        what = "decision regions"
    ax.grid(False)
    idx = fit.sample()
    for k, label in enumerate(classes):
        rows = idx[fit.target[idx] == k]
        ax.scatter(x[rows], y[rows], s=18, color=colours[k], marker=class_marker(k), edgecolors="black",
                   linewidths=0.6, label=label)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel=xname, ylabel=yname)
    units(ax.xaxis, _date(fit, xname))
    units(ax.yaxis, _date(fit, yname))
    accuracy = np.mean(fit.predicted == fit.target)
    detail = f"{_shown(fit)}; accuracy {accuracy:.3f}"
    if len(classes) <= LEGEND_CLASSES:  # beside the axes, never over a point; one column up to 20 classes
        fig.legend(title=f"actual {target}", loc="outside right center", fontsize=9, ncols=1 + (len(classes) > 20))
    else:
        detail += f"; {len(classes)} classes, too many to list"
    set_title(fig, _name(fit), what, detail)


def probability_colours() -> LinearSegmentedColormap:
    """P(positive) from 0 to 1: the negative class's light colour, white at 0.5, the positive class's."""
    negative, positive = class_colours(2)
    # paler than the regions' colours: the map fills the whole axes, and the points in the same hues sit on it
    return LinearSegmentedColormap.from_list("nnfit_probability",
                                             [lighter(negative, 0.35), (1, 1, 1), lighter(positive, 0.35)])


# ---- the table ----


def _regression(fit: Fit) -> bool:
    return fit.model.task == "regression"


def _classification(fit: Fit) -> bool:
    return fit.model.task != "regression"


def _numeric_inputs(count: int) -> Callable[[Fit], bool]:
    return lambda fit: fit.only_numeric_inputs and len(fit.numeric) == count


FIGURES = {  # file name (without extension) -> picture, in the order they are drawn and printed
    "learning-curves": Picture(learning_curves, (11, 4.5)),
    "predicted-vs-actual": Picture(predicted_vs_actual, (6.5, 6.5), _regression),
    "residuals": Picture(residuals, (8, 5), _regression),
    "fitted-curve": Picture(fitted_curve, (8, 5), lambda fit: _regression(fit) and _numeric_inputs(1)(fit)),
    "confusion-matrix": Picture(confusion, confusion_size, _classification),
    "roc": Picture(roc, (6.5, 6.5), lambda fit: fit.model.task == "binary"),
    "decision-regions": Picture(decision_regions, (8.5, 6.5),
                                lambda fit: _classification(fit) and _numeric_inputs(2)(fit)),
}

COMPARISONS = {  # pictures of several runs: file name -> picture
    "learning-curves": Picture(compare_learning_curves, comparison_size),
}
