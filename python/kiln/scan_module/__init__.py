"""Theano's ``scan``: loops over sequences with recurrent states, as one op in the graph.

    import kiln as theano
    import kiln.tensor as T
    x = T.vector('x')
    result, updates = theano.scan(lambda xt, acc: acc + xt, sequences=x, outputs_info=T.zeros_like(x[0]))
    cumsum = theano.function([x], result, updates=updates)

The loop body is built once by calling ``fn`` on symbolic placeholders, compiled once, and run
in C++ step after step. ``fn`` receives, in order: each sequence at each of its taps, each
recurrent output at each of its taps, then the non-sequences. It returns its outputs, optionally
with a dict of updates of shared variables and an ``until(condition)`` to stop early.
"""
from collections import OrderedDict

from .. import _core

__all__ = ["scan", "until"]


class until:
    """Stop the loop after the step where ``condition`` (a boolean scalar) is true."""

    def __init__(self, condition):
        self.condition = _core.as_tensor_variable(condition)


def _is_variable(x):
    return isinstance(x, _core.TensorVariable)


def _sequences(sequences):
    out = []
    for i, seq in enumerate(_as_list(sequences)):
        if isinstance(seq, dict):
            if "input" not in seq:
                raise ValueError(f"scan: sequences[{i}] is a dict without 'input'")
            taps = seq.get("taps", [0])
            out.append((_core.as_tensor_variable(seq["input"]), [0] if taps is None else [int(t) for t in taps]))
        else:
            out.append((_core.as_tensor_variable(seq), [0]))
    return out


def _outputs_info(outputs_info):
    out = []
    for i, info in enumerate(_as_list(outputs_info)):
        if info is None:
            out.append((None, []))
        elif isinstance(info, dict):
            initial = info.get("initial")
            taps = info.get("taps")
            if initial is None:
                out.append((None, [] if taps is None else [int(t) for t in taps]))
            else:
                out.append((_core.as_tensor_variable(initial), [-1] if taps is None else [int(t) for t in taps]))
        else:
            out.append((_core.as_tensor_variable(info), [-1]))
    return out


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _is_update_list(x):
    return (isinstance(x, (list, tuple)) and len(x) > 0 and
            all(isinstance(e, tuple) and len(e) == 2 and _is_variable(e[0]) and e[0].is_shared for e in x))


def _step_result(result):
    """What fn returned, as (outputs, updates, until condition or None), in Theano's conventions:
    a variable, a list of variables, a dict of updates, an until, or a tuple of those."""
    outputs, updates, condition = [], [], None
    parts = list(result) if isinstance(result, tuple) else [result]
    if isinstance(result, list) or _is_update_list(result):
        parts = [result]
    for part in parts:
        if part is None:
            continue
        if isinstance(part, until):
            condition = part.condition
        elif isinstance(part, dict):
            updates.extend(part.items())
        elif _is_update_list(part):
            updates.extend(part)
        elif isinstance(part, list):
            outputs.extend(_core.as_tensor_variable(o) for o in part)
        else:
            outputs.append(_core.as_tensor_variable(part))
    return outputs, [(k, _core.as_tensor_variable(v)) for k, v in updates], condition


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None, truncate_gradient=-1,
         go_backwards=False, mode=None, name=None, profile=False, allow_gc=None, strict=False, return_list=False):
    """Theano's scan: returns (outputs, updates).

    ``sequences``: variables (or dict(input=x, taps=[...])) iterated over their first axis.
    ``outputs_info``: per output of fn, its initial value (taps [-1]), dict(initial=x0, taps=[...])
    with negative taps, or None for an output that is not fed back.
    ``non_sequences``: variables passed unchanged to every step. ``n_steps``: number of steps (an
    int or integer scalar); by default the length of the shortest sequence.
    ``truncate_gradient``: backpropagate through the last that many steps only (-1: all).
    ``go_backwards``: iterate over the sequences from the end. ``strict``: raise if fn uses a
    variable (shared or not) that is not passed in. ``return_list``: always return a list of outputs.
    ``outputs`` holds each output's values at every step (stacked on a new first axis); ``updates``
    the new values of shared variables updated inside (explicitly, or random streams' states):
    pass it to kiln.function. ``profile`` and ``allow_gc`` are accepted for compatibility.
    """
    if n_steps is not None and not _is_variable(n_steps):
        n_steps = _core.as_tensor_variable(int(n_steps))
    if mode is not None and not isinstance(mode, str):
        mode = getattr(mode, "name", None) or getattr(mode, "optimizer", None) or ""
    non_seqs = [_core.as_tensor_variable(v) for v in _as_list(non_sequences)]

    def step(args):
        return _step_result(fn(*args))

    outputs, updates = _core.scan(step, _sequences(sequences), _outputs_info(outputs_info), non_seqs, n_steps,
                                  bool(go_backwards), int(truncate_gradient), bool(strict), mode or "", name or "")
    updates = OrderedDict(updates)
    if return_list:
        return list(outputs), updates
    if len(outputs) == 1:
        return outputs[0], updates
    if not outputs:
        return None, updates
    return list(outputs), updates
