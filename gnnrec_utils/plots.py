"""Matplotlib figures used by the notebooks: rating histogram, long tail, degrees, splits.

Each function draws on ``ax`` when given (so figures can be combined) or on a new figure, and
returns the Axes (or the Figure for multi-panel plots). Titles and axis labels are always set.
Nothing is shown or saved here: notebooks display the figure, scripts call ``fig.savefig``.

Defined in notebook ``01_preprocessing`` (sections 2, 5 and 6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize, layout="constrained")
    return new_ax


def rating_histogram(ratings: Sequence[float] | pd.Series, ax: Axes | None = None) -> Axes:
    """Bar chart of how often each rating value occurs, with the share written on each bar."""
    ax = _axes(ax)
    values, counts = np.unique(np.asarray(ratings), return_counts=True)
    bars = ax.bar(values, counts, width=0.7, color="tab:blue")
    shares = counts / counts.sum()
    ax.bar_label(bars, labels=[f"{s:.1%}" for s in shares], padding=2, fontsize=9)
    ax.set_xticks(values)
    ax.set_xlabel("rating")
    ax.set_ylabel("number of ratings")
    ax.set_title("Rating distribution")
    ax.margins(y=0.12)
    return ax


def popularity_long_tail(
    counts: Sequence[float] | pd.Series, top_fraction: float = 0.2, ax: Axes | None = None
) -> Axes:
    """Item popularity sorted from most to least popular (log y), with the head shaded.

    Args:
        counts: interactions per item (any order).
        top_fraction: share of items drawn as the "head" and annotated with its share of all
            interactions.
    """
    ax = _axes(ax)
    x = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    rank = np.arange(1, x.size + 1)
    k = math.ceil(top_fraction * x.size - 1e-9)
    head_share = x[:k].sum() / x.sum()
    ax.fill_between(rank[:k], x[:k], 0.8, color="tab:orange", alpha=0.35, step="mid", lw=0)
    ax.fill_between(rank[k - 1 :], x[k - 1 :], 0.8, color="tab:blue", alpha=0.2, step="mid", lw=0)
    ax.plot(rank, np.maximum(x, 0.8), color="black", lw=1)
    ax.axvline(k, color="tab:orange", ls="--", lw=1)
    ax.text(
        k * 1.05,
        x.max() / 2,
        f"top {top_fraction:.0%} of items\n= {head_share:.1%} of interactions",
        fontsize=9,
        va="top",
    )
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.8)
    ax.set_xlim(1, x.size)
    ax.set_xlabel("item rank (most popular first)")
    ax.set_ylabel("interactions per item (log)")
    ax.set_title("Long tail of item popularity")
    return ax


def degree_ccdf(
    degrees: Sequence[float] | np.ndarray, label: str | None = None, ax: Axes | None = None
) -> Axes:
    r"""Complementary cumulative distribution :math:`P(D \ge d)` of degrees, on log-log axes.

    The CCDF needs no binning and shows a power-law tail as a straight line. Zero degrees are
    left out (log axes); the title says how many there were.
    """
    ax = _axes(ax)
    d = np.asarray(degrees, dtype=np.float64)
    zeros = int((d <= 0).sum())
    d = np.sort(d[d > 0])
    values, first = np.unique(d, return_index=True)
    ccdf = 1.0 - first / d.size  # share of nodes with degree >= value
    ax.step(values, ccdf, where="post", label=label, lw=1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("degree $d$ (log)")
    ax.set_ylabel(r"$P(D \geq d)$ (log)")
    title = "Degree distribution (CCDF)"
    if zeros:
        title += f"; {zeros} isolated nodes not shown"
    ax.set_title(title)
    if label is not None:
        ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    return ax


def degree_distributions(user_degrees: np.ndarray, item_degrees: np.ndarray) -> Figure:
    """Two panels: user and item degree CCDFs (log-log), and log-binned degree histograms.

    The histogram is normalised by bin width (an estimate of :math:`P(D = d)`), so the wide
    bins at high degrees are not inflated relative to the narrow ones at low degrees.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    degree_ccdf(user_degrees, label="users", ax=left)
    degree_ccdf(item_degrees, label="items", ax=left)
    isolated = int((np.asarray(user_degrees) <= 0).sum() + (np.asarray(item_degrees) <= 0).sum())
    note = f" ({isolated} isolated nodes not shown)" if isolated else ""
    left.set_title("CCDF of node degrees" + note)
    both = np.concatenate([np.asarray(user_degrees), np.asarray(item_degrees)])
    both = both[both > 0]
    # Integer bin edges, spaced evenly on the log scale: no empty slivers between integers.
    bins = np.unique(np.round(np.logspace(0, np.log10(both.max() + 1), 25)))
    for degrees, label in ((user_degrees, "users"), (item_degrees, "items")):
        d = np.asarray(degrees, dtype=np.float64)
        # density=True divides by the bin width: wide and narrow bins become comparable
        right.hist(d[d > 0], bins=bins, density=True, alpha=0.55, label=label)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("degree $d$ (log bins)")
    right.set_ylabel("share of nodes per unit of degree (log)")
    right.set_title("Histogram of node degrees")
    right.legend()
    fig.suptitle("User-item graph: degree distributions")
    return fig


def _short(value: float) -> str:
    """Compact bar label: 70058 -> '70.1k', 943 -> '943', 0.0442 -> '0.0442'."""
    if abs(value) >= 10_000:
        return f"{value / 1000:.1f}k"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


def split_bars(
    stats: pd.DataFrame | dict[str, pd.DataFrame],
    columns: Sequence[str] = ("rows", "users", "items"),
) -> Figure:
    """Grouped bars comparing splits, one panel per statistic.

    Args:
        stats: a table from :func:`gnnrec_utils.splits.split_statistics` (index = part), or a
            mapping protocol name -> such table to compare protocols side by side.
        columns: the statistics to draw, one panel each.
    """
    tables = stats if isinstance(stats, dict) else {"": stats}
    fig, axes = plt.subplots(
        1, len(columns), figsize=(4.0 * len(columns), 3.6), layout="constrained", squeeze=False
    )
    parts = list(next(iter(tables.values())).index)
    width = 0.8 / len(tables)
    for ax, col in zip(axes[0], columns, strict=True):
        for j, (name, table) in enumerate(tables.items()):
            pos = np.arange(len(parts)) + (j - (len(tables) - 1) / 2) * width
            bars = ax.bar(pos, table.loc[parts, col].to_numpy(), width, label=name or None)
            ax.bar_label(bars, labels=[_short(v) for v in bars.datavalues], fontsize=8, padding=1)
        ax.set_xticks(np.arange(len(parts)), parts)
        ax.set_xlabel("part")
        ax.set_ylabel(col)
        ax.set_title(col)
        ax.margins(y=0.15)
    if len(tables) > 1:
        axes[0][0].legend()
    fig.suptitle("Split statistics")
    return fig
