"""How nnfit's pictures look: the palette, the size of a dot, the fonts, and the words for what they show.

Colours are Okabe and Ito's palette (2008), which readers with any common colour-vision deficiency can tell
apart; classes also differ in marker shape, and the confusion matrix's map varies in lightness alone.
"""

from __future__ import annotations

import os
import textwrap

BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, BLACK, YELLOW = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
PALETTE = (BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, BLACK, YELLOW)  # yellow last: faint on white
GREY = "#555555"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")  # with the 8 colours, 64 classes look different (class_marker)
LINESTYLES = ("-", (0, (5, 1.5)), (0, (1, 1)), (0, (3, 1, 1, 1)))  # runs beyond 8 also differ in dash pattern
TITLE_CHARS_PER_INCH = 11  # characters of an 11-point title per inch of the figure's width, with a margin
DPI = 100  # dots per inch: a figure of w x h inches is 100 w x 100 h pixels

# matplotlib settings on top of its defaults (a user's matplotlibrc does not apply: the same run, the same file);
# plots.py adds the colour cycle, PALETTE
RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.framealpha": 0.9,
    "svg.hashsalt": "nnfit",  # SVG ids from a fixed salt instead of a random one
    "svg.fonttype": "path",  # text as shapes: the file looks the same without the fonts
    "pdf.fonttype": 42,  # TrueType in PDF, so text stays text
    "text.parse_math": False,  # a $ in a class label, a column's or a run's name is a $, not math text
    "axes.formatter.useoffset": False,  # ticks read 1000000.5 as they are, not 0.5 with '+1e6' in a corner
}

LOSS_NAMES = {"mse": "mean squared error", "mae": "mean absolute error", "huber": "Huber loss",
              "binary_cross_entropy": "binary cross-entropy", "cross_entropy": "cross-entropy"}
METRIC_NAMES = {"r2": "R²", "accuracy": "accuracy", "rmse": "RMSE", "mae": "MAE", "precision": "precision",
                "recall": "recall", "f1": "F1", "roc_auc": "ROC AUC", "macro_f1": "macro F1"}


def class_colours(k: int) -> list[str]:
    """k colours, one per class, repeating after 8 (the markers then still differ)."""
    return [PALETTE[i % len(PALETTE)] for i in range(k)]


def class_marker(k: int) -> str:
    """Class k's marker: past 8 classes the colours repeat, so the marker moves on by one each round."""
    return MARKERS[(k + k // len(PALETTE)) % len(MARKERS)]


def lighter(colour: str, keep: float = 0.45) -> tuple[float, float, float]:
    """The colour mixed with white, keeping `keep` of it: for areas under darker points."""
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(keep * c + (1 - keep) for c in rgb)


def class_labels(labels, width: int = 20) -> list[str]:
    """Class labels as text, each at most `width` characters so that ticks and legends stay apart, and still
    telling the classes apart: cut at the end, else without the words they all begin with, else in the middle,
    else numbered."""
    texts = [str(label) for label in labels]
    cuts = (lambda t, w: t if len(t) <= w else t[:w - 1] + "…",
            lambda t, w: t if len(t) <= w else t[:(w - 1) // 2] + "…" + t[len(t) - (w - 1 - (w - 1) // 2):])
    common = os.path.commonprefix(texts) if len(texts) > 1 else ""
    words = max(common.rfind(c) for c in " _-:/.,;") + 1  # whole words only: 'Department of x: alpha' -> '…alpha'
    rest = [t[words:] for t in texts] if words >= 4 and all(len(t) > words for t in texts) else texts
    for cut, parts in ((cuts[0], texts), (cuts[0], rest), (cuts[1], texts)):
        short = [cut(t, width) if parts is texts else "…" + cut(t, width - 1) for t in parts]
        if len(set(short)) == len(short):
            return short
    return [f"{i}: {cuts[0](t, width - len(str(i)) - 2)}" for i, t in enumerate(texts)]


def loss_text(cfg) -> str:
    """The loss as the learning curves' axis names it: its name, and the units it is measured in."""
    name = LOSS_NAMES.get(cfg.loss, cfg.loss)
    if cfg.task == "regression" and cfg.data.scale_target:
        return f"{name} (standardized {cfg.data.target})"
    return name


def network_text(model) -> str:
    """'network 1-32-32-1, relu' or 'network 10-1, no hidden layer' from the layer sizes."""
    sizes = "-".join(str(s) for s in model.params.sizes)
    return f"network {sizes}, " + (model.activation if len(model.params.sizes) > 2 else "no hidden layer")


def number(value: float) -> str:
    """11,127 or 0.2345: a score in a title as the axes write it, not 1.113e+04 (scientific only past a billion
    or below 1e-4)."""
    v = float(value)
    if not (1e-4 <= abs(v) < 1e9 or v == 0):
        return f"{v:.3e}"
    return f"{v:,.0f}" if abs(float(f"{v:.4g}")) >= 1e3 else f"{v:.4g}"  # 999.96 rounds to 1,000 as 1000.2 does


def amount(name: str, value: float) -> str:
    """'RMSE 11,127' for a title, kept on one line when the title wraps."""
    return f"{name} {number(value)}".replace(" ", "\u00a0")  # a no-break space keeps the name with its number


def set_title(fig, run_name: str, what: str, detail: str | None = None) -> None:
    """The figure's title: the run and what the picture shows, then the detail (where the rows come from, the
    score). A suptitle, so that the layout keeps it clear of the axes; each line wrapped to the figure's width."""
    width = int(fig.get_figwidth() * TITLE_CHARS_PER_INCH)
    lines = [f"{run_name}: {what}"] + ([detail] if detail else [])
    title = fig.suptitle("\n".join(_wrap(lines, width)), fontsize=11)
    measure = getattr(fig.canvas, "get_renderer", None)  # Agg's: characters differ in width (W, i), so measure
    while measure is not None and width > 20 and title.get_window_extent(measure()).width > 0.96 * fig.bbox.width:
        width = int(width * 0.9)
        title.set_text("\n".join(_wrap(lines, width)))


def title_lines(fig_width: float, *lines: str) -> int:
    """How many lines set_title makes of these on a figure fig_width inches wide: for sizes that grow with it."""
    return len(_wrap(lines, int(fig_width * TITLE_CHARS_PER_INCH)))


def _wrap(lines, width: int) -> list[str]:
    return [part for line in lines for part in (textwrap.wrap(line, width, break_on_hyphens=False) or [line])]
