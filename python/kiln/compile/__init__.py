"""Compilation: kiln.function and shared variables."""
from .function import In, Param, function
from .nanguardmode import NanGuardMode
from .sharedvalue import shared

__all__ = ["In", "NanGuardMode", "Param", "function", "shared"]
from .builders import OpFromGraph  # noqa: E402

__all__ += ["OpFromGraph"]
