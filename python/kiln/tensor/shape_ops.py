"""Shape operations: reshape, flatten, alloc, zeros/ones, arange, eye, concatenate, stack, split."""
__all__ = []
