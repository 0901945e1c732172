"""The picture of a sweep's ranking metric against each swept parameter. (The best trials' learning curves are
figures.COMPARISONS', as for several runs given by hand.)"""

from __future__ import annotations

import math

import numpy as np

from .ticks import log_scale_on
from .figures import Picture
from .style import BLUE, GREY, METRIC_NAMES, VERMILLION, number, set_title
from .sweepview import SweepView

PANEL = (4.2, 3.6)  # inches per parameter's panel
MAX_PANELS = 12  # a sweep over more keys draws the first 12 and says so
LOG_SPAN = 20  # positive values spanning this factor or more go on a log axis


def metric_name(metric: str) -> str:
    return "validation loss" if metric == "valid_loss" else f"validation {METRIC_NAMES.get(metric, metric)}"


def _numeric(values) -> bool:
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _text(value, width: int = 14) -> str:
    """A value as a tick label: a mapping (an early_stopping section, say) one 'key value' a line."""
    if isinstance(value, dict):
        return "\n".join(_text(f"{k} {_text(v)}", width + 6) for k, v in value.items()) or "{}"
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def metric_by_parameter(fig, view: SweepView) -> None:
    """One panel per swept key: each finished trial's metric (the mean over folds, with their spread as a bar)
    at its value of that key; the best trial a star. Numbers on a linear or (spanning a factor of 20 or more) log axis, other
    values (words, lists) side by side in the order the trials first use them."""
    keys = view.parameters[:MAX_PANELS]
    cols = min(len(keys), 3)
    axes = fig.subplots(math.ceil(len(keys) / cols), cols, sharey=True, squeeze=False).ravel()
    shown = [r for r in view.rows if r["state"] == "finished" and r[view.metric] is not None]
    best = view.ranked[0] if view.ranked else None
    y = np.array([r[view.metric] for r in shown], np.float64)
    spread = f"{view.metric}_std"
    err = np.array([float(r.get(spread) or 0.0) for r in shown]) if view.folds else None
    for i, (ax, key) in enumerate(zip(axes, keys)):
        values = [r[key] for r in shown]
        if _numeric(values):
            x = np.array(values, np.float64)
            position = dict(zip(map(repr, values), x))
            if x.min() > 0 and x.max() >= LOG_SPAN * x.min():  # rates, sizes: a sweep spaces them by factors
                log_scale_on(ax, "x")
        else:
            order = list(dict.fromkeys(repr(r[key]) for r in view.rows))  # every trial's, finished or not
            position = {text: float(j) for j, text in enumerate(order)}
            x = np.array([position[repr(v)] for v in values])
            names = {repr(r[key]): r[key] for r in view.rows}
            ax.set_xticks(range(len(order)), [_text(names[t]) for t in order], rotation=30 if len(order) > 3 else 0)
            ax.set_xlim(-0.5, len(order) - 0.5)
        if err is not None:
            ax.errorbar(x, y, yerr=err, fmt="none", ecolor=GREY, elinewidth=1, capsize=2, alpha=0.7)
        ax.scatter(x, y, s=28, color=BLUE, alpha=0.8, edgecolors="none", label="trial")
        if best is not None:
            ax.scatter([position[repr(best[key])]], [best[view.metric]], s=180, marker="*", color=VERMILLION,
                       zorder=3, label="best")
        ax.set_xlabel(key)
        if i % cols == 0:
            ax.set_ylabel(metric_name(view.metric) + (" (mean over folds)" if view.folds else ""))
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    if best is not None:
        axes[0].legend(loc="best", fontsize=9)
    finished = sum(r["state"] == "finished" for r in view.rows)
    detail = [f"{finished} of {len(view.rows)} trials finished" if finished < len(view.rows) else f"{finished} trials"]
    if len(shown) < finished:
        detail[0] += f", {finished - len(shown)} of them without a {view.metric}"
    detail += [f"best {best['trial']} ({number(best[view.metric])})" if best else "none finished yet",
               "lower is better" if view.minimize else "higher is better"]
    if len(view.parameters) > MAX_PANELS:
        detail.append(f"the first {MAX_PANELS} of {len(view.parameters)} swept keys")
    set_title(fig, view.name, f"{metric_name(view.metric)} by swept parameter", "; ".join(detail))


def metric_picture(view: SweepView) -> Picture:
    """metric_by_parameter at a size that fits its panels."""
    keys = min(len(view.parameters), MAX_PANELS)
    cols = min(keys, 3)
    rows = math.ceil(keys / cols)
    return Picture(metric_by_parameter, (max(PANEL[0] * cols, 6.5), PANEL[1] * rows + 1.0))
