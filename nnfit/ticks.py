"""How the pictures' axes are labelled: log axes in plain text, big numbers grouped by thousands, dates as
dates."""

from __future__ import annotations

import re

from matplotlib import rcParams
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import LogFormatterSciNotation, MaxNLocator, ScalarFormatter

_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


class PlainLogFormatter(LogFormatterSciNotation):
    """matplotlib's log-axis labels as plain text, 10⁻² and 2×10⁻¹, instead of math text ($10^{-2}$): they look
    the same, and matplotlib need not start its math-text parser, which costs a fifth of a second."""

    def __call__(self, x, pos=None):
        text = super().__call__(x, pos)
        math = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", text)
        if math is None:
            return text
        plain = re.sub(r"\^\{(-?\d+)\}", lambda m: m.group(1).translate(_SUPERSCRIPTS), math.group(1))
        return plain.replace(r"\times", "×").replace("-", "−")


def log_scale_on(ax, which: str) -> None:
    """A log scale on ax's axis `which` ('x' or 'y'), labelled by PlainLogFormatter as matplotlib's would be."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))


class Grouped(ScalarFormatter):
    """Ticks of big numbers with their thousands grouped, 250,000 as the titles write them, and never a '1e6'
    multiplier in a corner (up to 1e12); smaller numbers as matplotlib labels them."""

    def __init__(self):
        super().__init__(useOffset=False)
        self.set_powerlimits((-5, 12))

    def __call__(self, x, pos=None):
        lo, hi = sorted(self.axis.get_view_interval())
        if max(abs(lo), abs(hi)) >= 1e4 and hi - lo >= 10 and float(x).is_integer():
            return f"{x:,.0f}".replace("-", "\u2212")  # matplotlib's minus sign
        return super().__call__(x, pos)


class Spaced(MaxNLocator):
    """An x axis's ticks as matplotlib places them, fewer when Grouped's labels would touch: matplotlib allows a
    label about three font sizes, and 1,250,000 takes five."""

    def __init__(self):
        super().__init__(nbins="auto", steps=[1, 2, 2.5, 5, 10])

    def __call__(self):
        lo, hi = sorted(self.axis.get_view_interval())
        nbins = "auto"
        if max(abs(lo), abs(hi)) >= 1e4:
            size = FontProperties(size=rcParams["xtick.labelsize"]).get_size_in_points()
            em = size * self.axis.axes.figure.dpi / 72  # in pixels
            widest = max(len(f"{v:,.0f}") for v in (lo, hi)) + 2  # characters, with a gap of two
            nbins = max(2, int(self.axis.axes.bbox.width / (0.62 * em * widest)))  # a digit is 0.62 em wide
        self.set_params(nbins=nbins)
        return super().__call__()


def units(axis, date: bool = False) -> None:
    """An axis in a column's own units: calendar dates for a data.types date column (date), whose values are
    days since 1970-01-01, matplotlib's default epoch, which the pictures' style keeps; else Grouped numbers."""
    if date:
        from matplotlib import dates  # only for such a column: the import costs every other picture

        locator = dates.AutoDateLocator()
        axis.set_major_locator(locator)
        axis.set_major_formatter(dates.ConciseDateFormatter(locator))
    else:
        axis.set_major_formatter(Grouped())
        if axis.axis_name == "x":  # side by side: wide labels need room (a y axis stacks them)
            axis.set_major_locator(Spaced())
