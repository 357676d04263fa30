"""Indexing: x[...] on tensor variables, set_subtensor, inc_subtensor, advanced integer indexing."""
__all__ = []
