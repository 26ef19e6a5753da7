"""Kernels: fused forward/backward autograd Functions, torch's native path, the cell registry."""

from lstmkit.kernels.cells import CELLS, CellSpec, get_cell

__all__ = ["CELLS", "CellSpec", "get_cell"]
