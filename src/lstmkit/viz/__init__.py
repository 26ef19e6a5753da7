"""Plots written into run directories (matplotlib, Agg backend: no display needed)."""

from lstmkit.viz.plots import plot_confusion, plot_loss, plot_predicted

__all__ = ["plot_confusion", "plot_loss", "plot_predicted"]
