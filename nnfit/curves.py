"""Learning curves from metrics.csv: one run's, with its kept epoch and early stop marked, or several runs'
overlaid. A run still training, or interrupted, shows the epochs it has finished."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .errors import count
from .plotdata import MAIN_METRIC, Comparison, RunView, log_scale
from .ticks import log_scale_on
from .style import (BLUE, GREEN, GREY, MARKERS, METRIC_NAMES, PALETTE, PURPLE, VERMILLION, loss_text,
                    set_title, title_lines)

R2_FLOOR = -1.0  # the R² axis stops here: early epochs far below it would flatten the rest of the curve


def status(run: RunView) -> str:
    """How far the run got, in words: '300 epochs', 'still training: 12 of 300 epochs', ..."""
    n, total = len(run.history), run.cfg.train.epochs
    if run.state == "running":
        if run.training_now:
            return f"still training: {n} of {total} epochs done"
        return f"stopped unfinished (killed?) after {n} of {total} epochs"
    if run.stop_reason == "diverged":
        return f"diverged in epoch {n + 1}"
    if run.state == "interrupted":
        return f"interrupted after {n} of {total} epochs"
    ran = run.summary.get("epochs_run")
    if isinstance(ran, int) and ran > n:  # metrics.csv cut short (by hand, or a disk that filled up)
        return f"metrics.csv holds {n} of the {count(ran, 'epoch')} run"
    if run.stop_reason == "early_stopping":
        return f"stopped early after {n} of {total} epochs"
    return count(n, "epoch")


def settings_text(run: RunView) -> str:
    """The training settings a reader compares runs by."""
    t, model = run.cfg.train, run.cfg.model
    layers = f"hidden layers {model.hidden}, {model.activation}" if model.hidden else "no hidden layer"
    layers += f", dropout {model.dropout:g}" if model.dropout else ""
    schedule = t.schedule
    rate = f"learning rate {t.learning_rate:g}"
    rate += f" ({schedule.name} schedule)" if schedule is not None and schedule.name != "constant" else ""
    return f"{layers}; {t.optimizer}, {rate}, batch size {t.batch_size}"


def learning_curves(fig, fit) -> None:
    """One run: training and validation loss per epoch, beside the validation metric (accuracy or R²)."""
    run = fit.run
    h, metric = run.history, MAIN_METRIC[run.task]
    ax_loss, ax_metric = fig.subplots(1, 2, sharex=True)
    dots = {"marker": "o", "markersize": 3} if len(h) <= 30 else {}  # a line of a few epochs hides its points
    ax_loss.plot(h.epoch, h.train_loss, color=BLUE, linestyle="--", label="training", **dots)
    if run.has_validation:
        ax_loss.plot(h.epoch, h.valid_loss, color=VERMILLION, label="validation", **dots)
        ax_metric.plot(h.epoch, h[metric], color=VERMILLION, label="validation", **dots)
    panels = (ax_loss, ax_metric) if run.has_validation else (ax_loss,)
    kept = h[h.epoch == run.epoch_kept]
    if len(kept):
        for ax in panels:
            ax.axvline(run.epoch_kept, color=GREEN, linestyle=":", linewidth=1.5,
                       label=f"weights kept: epoch {run.epoch_kept}")
        loss = kept.valid_loss if run.has_validation else kept.train_loss
        ax_loss.plot(kept.epoch, loss, "o", color=GREEN, markersize=6)
    if run.stop_reason == "early_stopping":
        patience = run.cfg.train.early_stopping.patience
        for ax in (ax_loss, ax_metric):
            ax.axvline(h.epoch.iloc[-1], color=PURPLE, linestyle="-.", linewidth=1.5,
                       label=f"early stop: {patience} epochs without improvement")
    elif run.stop_reason == "diverged":
        for ax in panels:
            ax.axvline(len(h) + 1, color=PURPLE, linestyle="-.", linewidth=1.5, label=f"diverged in epoch {len(h) + 1}")
    _label_axes(ax_loss, ax_metric, [run], loss_text(run.cfg))
    if len(h):
        ax_loss.legend(loc="best", fontsize=9)
    set_title(fig, run.name, f"learning curves ({status(run)})", settings_text(run))


def compare_learning_curves(fig, comparison: Comparison) -> None:
    """Several runs' curves overlaid, one colour per run: validation solid, training dashed, kept epoch a dot."""
    runs, labels = comparison.runs, comparison.labels
    ax_loss, ax_metric = fig.subplots(1, 2, sharex=True)
    metric = comparison.metric or MAIN_METRIC[runs[0].task]
    handles = []
    for i, (run, label) in enumerate(zip(runs, labels)):
        h = run.history
        colour = PALETTE[i % len(PALETTE)]
        # past 8 runs the colours repeat: those runs also carry a marker every tenth of their epochs
        extra = {} if i < len(PALETTE) else {"marker": MARKERS[(i // len(PALETTE)) % len(MARKERS)],
                                             "markevery": max(1, len(h) // 10), "markersize": 5}
        ax_loss.plot(h.epoch, h.train_loss, color=colour, linestyle="--", linewidth=1, alpha=0.8, **extra)
        main = h.valid_loss if run.has_validation else h.train_loss
        if run.has_validation:
            ax_loss.plot(h.epoch, h.valid_loss, color=colour, linewidth=1.5, **extra)
            ax_metric.plot(h.epoch, h[metric], color=colour, linewidth=1.5, **extra)
        kept = h.epoch == run.epoch_kept
        ax_loss.plot(h.epoch[kept], main[kept], "o", color=colour, markersize=6)
        finished = run.state == "finished" and run.stop_reason != "diverged"
        marker = {k: v for k, v in extra.items() if k != "markevery"}
        handles.append(Line2D([], [], color=colour, linewidth=2, label=label if finished else f"{label} ({status(run)})",
                              **marker))
    handles += [Line2D([], [], color=GREY, label=STYLE_ENTRIES[0]),
                Line2D([], [], color=GREY, linestyle="--", linewidth=1, label=STYLE_ENTRIES[1]),
                Line2D([], [], color=GREY, marker="o", linestyle="none", label=STYLE_ENTRIES[2])]
    texts = {loss_text(run.cfg) for run in runs}
    _label_axes(ax_loss, ax_metric, runs, texts.pop() if len(texts) == 1 else "loss (measured differently per run)",
                metric)
    # below the panels, where the run names have the figure's width; the style entries close the list
    columns = _legend_columns([h.get_label() for h in handles])
    fig.legend(handles=handles, loc="outside lower center", fontsize=9, ncols=columns, frameon=False)
    set_title(fig, *_comparison_title(comparison))


STYLE_ENTRIES = ("validation", "training", "weights kept")  # the legend's last entries: what line styles mean
COMPARISON_WIDTH = 11.0  # inches
PANELS_HEIGHT = 4.5  # inches: the panels, their labels, two lines of title and two of legend


def comparison_size(comparison: Comparison) -> tuple[float, float]:
    """The overlay's size: its width, and the panels' height plus the legend's rows and the title's lines
    beyond the two each that PANELS_HEIGHT has room for, so that many runs never squash the panels."""
    labels = [*comparison.labels, *STYLE_ENTRIES]  # a run's label may get its status; about as wide
    rows = -(-len(labels) // _legend_columns(labels))
    title, what, detail = _comparison_title(comparison)
    lines = title_lines(COMPARISON_WIDTH, f"{title}: {what}", detail)
    return COMPARISON_WIDTH, PANELS_HEIGHT + 0.2 * max(rows - 2, 0) + 0.22 * max(lines - 2, 0)


def _legend_columns(labels: list[str]) -> int:
    widest = max(len(label) for label in labels)  # long labels (a sweep's trial names) take fewer columns
    return min(4 if widest <= 32 else 2 if widest <= 60 else 1, len(labels))


def _comparison_title(comparison: Comparison) -> tuple[str, str, str]:
    """set_title's (name, what, detail) for an overlay."""
    names = ", ".join(run.name for run in comparison.runs)
    title = comparison.title or (names if len(names) <= 60 else f"{len(comparison.runs)} runs")
    differences = comparison.differences
    detail = ("the runs differ in " + ", ".join(differences)) if differences else "the runs' configs are the same"
    return title, "learning curves", detail


def _note(ax, text: str) -> None:
    """Words in place of curves, on an axes without scales."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_yticks([])
    ax.grid(False)


def _label_axes(ax_loss, ax_metric, runs: list[RunView], loss_label: str, metric: str | None = None) -> None:
    """Names and scales of the two panels (the second's metric: MAIN_METRIC by default), or a note where there
    is nothing to draw."""
    metric = metric or MAIN_METRIC[runs[0].task]
    losses = np.concatenate([np.r_[r.history.train_loss, r.history.valid_loss] for r in runs])
    if log_scale(losses):
        log_scale_on(ax_loss, "y")
    ax_loss.set(xlabel="epoch", ylabel=loss_label)
    ax_metric.set(xlabel="epoch", ylabel=f"validation {METRIC_NAMES.get(metric, metric)}")
    epochs = np.concatenate([r.history.epoch.to_numpy(np.float64) for r in runs])
    for ax in (ax_loss, ax_metric):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(epochs) and epochs.max() - epochs.min() < 2:  # one or two epochs: room for whole-number ticks
            ax.set_xlim(epochs.min() - 1, epochs.max() + 1)
    if not any(len(r.history) for r in runs):
        for ax in (ax_loss, ax_metric):
            _note(ax, "no epoch has finished yet" if any(r.training_now for r in runs) else "no epoch finished")
            ax.set_xlim(1, max(r.cfg.train.epochs for r in runs))
        return
    if not any(r.has_validation for r in runs):
        note = f"no validation rows:\nmetrics.csv has no {METRIC_NAMES.get(metric, metric)} per epoch"
        on_train = (runs[0].summary.get("train") or {}) if len(runs) == 1 else {}
        if isinstance(on_train.get(metric), (int, float)):
            note += f"\n\nthe kept weights' {METRIC_NAMES.get(metric, metric)} on the training rows: {on_train[metric]:.3f}"
        _note(ax_metric, note)
        return
    values = np.concatenate([r.history[metric].to_numpy(np.float64) for r in runs])
    values = values[np.isfinite(values)]
    if metric == "r2" and len(values) and values.min() < R2_FLOOR <= values.max():  # never every epoch off the axis
        ax_metric.set_ylim(R2_FLOOR - 0.05, max(values.max(), 0) + 0.05)
        ax_metric.set_ylabel(f"validation R² (axis cut at {R2_FLOOR:g})".replace("-", "−"))
