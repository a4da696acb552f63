"""Stateful HTTP simulator of the VPS provider's Snapshots API."""

from .server import Simulator

__all__ = ["Simulator"]
