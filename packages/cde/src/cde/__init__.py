"""Crypto Data Engine in a notebook: ``from cde import Lake`` (docs/notebook.md)."""

from cde.notebook_lake import Lake
from cde.runs import Report, Run

__all__ = ["Lake", "Report", "Run"]
