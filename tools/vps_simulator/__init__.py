"""Stateful HTTP simulator of the VPS provider's Snapshots API (see docs/INTERFACES.md)."""

from .server import Simulator

__all__ = ["Simulator"]
