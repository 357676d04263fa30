"""Compilation: kiln.function and shared variables."""
from .function import function
from .sharedvalue import shared

__all__ = ["function", "shared"]
