"""Theano's OpFromGraph: an op defined by a graph.

    x, y = T.dmatrices("x", "y")
    op = OpFromGraph([x, y], [x + y * 2])
    z = op(a, b) * 3

Applied like any op, the graph runs compiled once as a unit, or (``inline=True``) is copied into
the caller's graph before rewriting. Shared variables the graph reads become implicit inputs.
Gradients differentiate the graph, unless overridden:

- ``grad_overrides``: ``f(inputs, output_grads)`` (or an OpFromGraph taking inputs then output
  gradients) returning one gradient per input; or a list with one entry per input: such a callable
  returning one variable, ``None`` (disconnected: no gradient flows) or ``'default'``.
- ``lop_overrides``: the same with ``f(inputs, outputs, output_grads)``; exclusive with
  ``grad_overrides``.
- ``rop_overrides``: ``f(inputs, eval_points)`` returning one value per output, or a list with one
  entry per output (callable, ``None`` or ``'default'``). Inputs held constant get zero eval points.

Overrides see the explicit inputs; when they return a gradient per explicit input, the implicit
shared inputs get the gradient of the graph.

``connection_pattern`` (one list of booleans per input, one entry per output) declares which
outputs each input affects, as Theano's: where it says False, no gradient flows from that output to
that input, and an input connected to no output gets no gradient (disconnected). By default it is
read from the graph (``op.connection_pattern``). ``mode`` is the mode the graph compiles in when it
runs as a unit (not inline); by default, the configured one.
"""
from .. import _core
from ..tensor import TensorVariable, zeros_like

__all__ = ["OpFromGraph"]


def _is_default(spec):
    return isinstance(spec, str) and spec == "default"


def _as_list(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _single(result, what):
    if isinstance(result, (list, tuple)):
        if len(result) != 1:
            raise ValueError(f"OpFromGraph: {what} returned {len(result)} values; a list entry must return one")
        return result[0]
    return result


class _Defaults:
    """The graph's own gradients or tangents, computed once and only when an entry asks for them."""

    def __init__(self, compute):
        self._compute, self._values = compute, None

    def __getitem__(self, i):
        if self._values is None:
            self._values = self._compute()
        return self._values[i]

    def rest(self, start):
        if self._values is None:
            self._values = self._compute()
        return list(self._values[start:])


def _apply_overrides(spec, call, defaults, count, what):
    """The values an override gives: ``call(f)`` for a single override ``spec``; for a list, one
    entry per ``what`` (input or output): ``call(entry)`` giving one value, None, or the default."""
    if not isinstance(spec, (list, tuple)):
        return _as_list(call(spec))
    if len(spec) != count:
        raise ValueError(f"OpFromGraph: the override list has {len(spec)} entries for {count} {what}s")
    result = []
    for i, entry in enumerate(spec):
        if entry is None:
            result.append(None)  # disconnected
        elif _is_default(entry):
            result.append(defaults[i])
        else:
            result.append(_single(call(entry), f"the override of {what} {i}"))
    return result


def _lop_callable(spec, with_outputs, n_explicit):
    def lop(op, inputs, outputs, grads):
        explicit = list(inputs[:n_explicit])

        def call(f):
            if isinstance(f, OpFromGraph):
                return f(*explicit, *(outputs if with_outputs else []), *grads)
            return f(explicit, outputs, grads) if with_outputs else f(explicit, grads)

        defaults = _Defaults(lambda: op.default_lop(list(inputs), list(grads)))
        result = _apply_overrides(spec, call, defaults, n_explicit, "input")
        if len(result) == n_explicit:
            result += defaults.rest(n_explicit)
        return result

    return lop


def _rop_callable(spec, n_explicit, n_outputs):
    def rop(op, inputs, eval_points):
        explicit = list(inputs[:n_explicit])
        points = [p if p is not None else zeros_like(x) for x, p in zip(explicit, eval_points[:n_explicit])]

        def call(f):
            return f(*explicit, *points) if isinstance(f, OpFromGraph) else f(explicit, points)

        defaults = _Defaults(lambda: op.default_rop(list(inputs), list(eval_points)))
        return _apply_overrides(spec, call, defaults, n_outputs, "output")

    return rop


def _graph_connection_pattern(inputs, outputs):
    """[input][output]: whether the output's graph reads the input."""
    pattern = [[False] * len(outputs) for _ in inputs]
    for j, out in enumerate(outputs):
        read = {out}
        for node in _core.toposort([out]):
            read.update(node.inputs)
        for i, x in enumerate(inputs):
            pattern[i][j] = x in read
    return pattern


def _check_connection_pattern(pattern, n_inputs, n_outputs):
    rows = [list(r) for r in pattern] if isinstance(pattern, (list, tuple)) else None
    if rows is None or len(rows) != n_inputs or any(len(r) != n_outputs for r in rows):
        raise ValueError(f"OpFromGraph: connection_pattern must be {n_inputs} lists (one per input) of {n_outputs} "
                         f"booleans (one per output), got {pattern!r}")
    return [[bool(c) for c in r] for r in rows]


def _masked_lop(lop, pattern, n_explicit):
    """The gradients of `lop` (or of the graph) where only the connected outputs reach each input:
    for every distinct set of connected outputs, the other outputs' gradients are replaced by zeros."""
    def masked(op, inputs, outputs, grads):
        result = [None] * len(inputs)
        by_mask = {}
        for i in range(len(inputs)):
            mask = tuple(pattern[i]) if i < n_explicit else (True,) * len(grads)
            if any(mask):
                by_mask.setdefault(mask, []).append(i)
        for mask, members in by_mask.items():
            kept = [g if keep or g is None else zeros_like(g) for g, keep in zip(grads, mask)]
            full = lop(op, inputs, outputs, kept) if lop else op.default_lop(list(inputs), kept)
            for i in members:
                result[i] = full[i]
        return result

    return masked


def _check_variables(values, what):
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"OpFromGraph: {what}s must be a list of variables, got {type(values).__name__}")
    for i, v in enumerate(values):
        if not isinstance(v, TensorVariable):
            raise TypeError(f"OpFromGraph: {what} {i} is not a variable: {v!r}")
    return list(values)


class OpFromGraph:
    """An op computing ``outputs`` from ``inputs`` (free variables; no constants or shared
    variables), applied as ``op(*variables)``. See the module documentation for the overrides."""

    def __init__(self, inputs, outputs, inline=False, lop_overrides="default", grad_overrides="default",
                 rop_overrides="default", connection_pattern=None, name=None, mode=None, **kwargs):
        del kwargs  # Theano passes the rest to the inner function(); they do not change what it computes
        inputs = _check_variables(inputs, "input")
        outputs = _check_variables(outputs, "output")
        if not _is_default(lop_overrides) and not _is_default(grad_overrides):
            raise ValueError("OpFromGraph: lop_overrides and grad_overrides are mutually exclusive")
        lop = None
        if not _is_default(lop_overrides):
            lop = _lop_callable(lop_overrides, True, len(inputs))
        elif not _is_default(grad_overrides):
            lop = _lop_callable(grad_overrides, False, len(inputs))
        graph_pattern = _graph_connection_pattern(inputs, outputs)
        if connection_pattern is None:
            self.connection_pattern = graph_pattern
        else:
            self.connection_pattern = _check_connection_pattern(connection_pattern, len(inputs), len(outputs))
            if self.connection_pattern != graph_pattern:
                lop = _masked_lop(lop, self.connection_pattern, len(inputs))
        rop = None if _is_default(rop_overrides) else _rop_callable(rop_overrides, len(inputs), len(outputs))
        if mode is not None and not isinstance(mode, str):
            mode = getattr(mode, "name", str(mode))
        self.op = _core.OpFromGraph.create(inputs, outputs, bool(inline), name or "", lop, rop, mode or "")
        self.is_inline = bool(inline)
        self.name = name
        self.mode = mode

    @property
    def shared_inputs(self):
        """The shared variables the graph reads: implicit inputs appended to each application."""
        return self.op.shared_inputs

    def __call__(self, *inputs):
        """Apply the op: its output, or a list of them when it has several."""
        outputs = self.op.apply(list(inputs))
        return outputs[0] if len(outputs) == 1 else outputs

    def make_node(self, *inputs):
        return _as_list(self(*inputs))[0].owner

    def __repr__(self):
        return self.op.name
