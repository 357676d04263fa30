"""Compilation: kiln.function and shared variables."""
from .function import In, Param, function
from .sharedvalue import shared

__all__ = ["In", "Param", "function", "shared"]
