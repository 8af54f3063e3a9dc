"""Figures for rlmeta results (matplotlib/seaborn)."""

from ._theme import PALETTE, palette, theme
from .forest import forest

__all__ = ["theme", "palette", "PALETTE", "forest"]
