"""Figures for rlmeta results (matplotlib + seaborn).

One function per figure.  Each takes a result object or a tidy frame plus
keyword-only options and an optional ``ax``:

* ``ax=None`` (default): a new figure is made and the **Figure** is returned;
* ``ax`` given: the figure is drawn into it and that **Axes** is returned
  (multi-panel figures divide its area into inset Axes, ``ax.child_axes``).

Every function draws inside :func:`theme` (a context manager: seaborn style,
colour-blind-safe Okabe-Ito palette) and leaves the global ``rcParams`` untouched;
wrap calls in ``with rlmeta.plots.theme(context="paper"):`` to restyle them.
:func:`save` writes SVG/PNG/PDF at a given size atomically; :func:`to_svg` returns
inline SVG for HTML reports.

>>> import rlmeta as rm, rlmeta.plots as rp
>>> eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
>>> fig = rp.forest(rm.meta_analysis(eff.head(5), slab="benchmark"))
>>> type(fig).__name__
'Figure'
"""

from ._save import save, to_svg
from ._theme import PALETTE, diverging_cmap, palette, theme
from .distributions import boxplot
from .explore import cluster_scatter, dendrogram, pca_biplot, pca_scree
from .forest import forest
from .funnel import funnel, labbe, radial
from .heatmap import corr_heatmap, heatmap
from .multiverse import gosh, specification_curve
from .regression import bubble, interaction_plot, prediction_grid
from .sensitivity import baujat, cumulative, estimator_sweep, influence_panel, leave_one_out
from .sweeps import arms_long, errorbars, sweep_lines

__all__ = [
    # theme and output
    "theme",
    "palette",
    "PALETTE",
    "diverging_cmap",
    "save",
    "to_svg",
    # meta-analysis
    "forest",
    "funnel",
    "radial",
    "labbe",
    "bubble",
    "interaction_plot",
    "prediction_grid",
    # distributions and comparisons
    "boxplot",
    "heatmap",
    "corr_heatmap",
    "errorbars",
    "sweep_lines",
    "arms_long",
    # sensitivity
    "leave_one_out",
    "cumulative",
    "influence_panel",
    "baujat",
    "gosh",
    "specification_curve",
    "estimator_sweep",
    # exploration
    "pca_scree",
    "pca_biplot",
    "dendrogram",
    "cluster_scatter",
]
