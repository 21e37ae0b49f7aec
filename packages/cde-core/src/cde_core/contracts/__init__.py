"""Protocols that registered plugin objects satisfy, one module per kind."""

from cde_core.contracts.base import Component

__all__ = ["Component"]
