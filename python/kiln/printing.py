"""kiln.printing: text views of graphs, as theano.printing.

debugprint shows a graph as an indented tree, one line per node; pprint shows it as a formula.
Both are computed by kiln's core; this module only chooses where the text goes.
"""
import sys

from . import _core

__all__ = ["debugprint", "pprint", "pp", "pydotprint", "generated_source"]


def debugprint(obj, depth=-1, print_type=False, file=None, ids="CHAR", stop_on_name=False, max_indent=100):
    """Print the graph of ``obj`` as an indented tree, one line per node (Theano's format).

    ``obj`` is a variable, an Apply node, a compiled function (its rewritten graph, each node's
    line ending with its position in execution order), a FunctionGraph, or a list of these.
    ``depth``: levels to print (-1: all). ``print_type``: append each variable's type.
    ``ids``: "CHAR" ([id A], ...), "int" ([id 0], ...), "id" (creation numbers) or "" (none).
    ``stop_on_name``: do not expand named variables. ``max_indent``: levels of indentation after
    which a subtree continues below as its own block, so very deep graphs print quickly.
    ``file``: None prints to sys.stdout and returns None; "str" returns the text; a file object
    is written to and returned.
    """
    text = _core.debugprint(obj, depth, print_type, ids, stop_on_name, max_indent)
    text += _inner_graphs_text(obj, depth, print_type, ids, stop_on_name, max_indent)
    if isinstance(file, str):
        if file != "str":
            raise ValueError(f"debugprint: file must be None, 'str' or a file object, got {file!r}")
        return text
    out = sys.stdout if file is None else file
    out.write(text)
    if file is None:
        out.flush()
        return None
    return file


def _nodes_of(obj):
    """The Apply nodes of what debugprint was given, in order."""
    if hasattr(obj, "nodes"):
        return list(obj.nodes())
    if isinstance(obj, _core.FunctionGraph):
        return list(obj.toposort())
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    roots = []
    for item in items:
        if isinstance(item, _core.Apply):
            roots.extend(item.outputs)
        elif isinstance(item, _core.TensorVariable):
            roots.append(item)
    return list(_core.toposort(roots)) if roots else []


def _inner_graphs_text(obj, *options):
    """Theano's "Inner graphs" section: the loop body of every scan node, nested ones included."""
    pending = [n for n in _nodes_of(obj) if _core.is_scan(n)]
    if not pending:
        return ""
    text = "\nInner graphs of the scan ops:\n"
    seen = set()
    while pending:
        node = pending.pop(0)
        inner = _core.scan_inner_outputs(node)
        key = tuple(id(v) for v in inner)
        if key in seen:
            continue
        seen.add(key)
        body = _core.debugprint(inner, *options)
        text += f"\n{node.op} (loop body)\n" + "".join(" >" + line + "\n" for line in body.splitlines())
        pending.extend(n for n in _core.toposort(inner) if _core.is_scan(n))
    return text


def pprint(var):
    """The graph computing ``var`` as a formula: ``(a + b) * c``, ``exp(x)``, ``dot(x, w).T``."""
    return _core.pprint(var)


pp = pprint


def pydotprint(*args, **kwargs):
    """Not available: drawing graphs needs graphviz (pydot), which kiln does not depend on."""
    del args, kwargs
    raise NotImplementedError(
        "kiln.printing.pydotprint is not implemented: drawing graphs needs graphviz (pydot), which kiln does "
        "not depend on; use kiln.printing.debugprint(...) or kiln.printing.pprint(...) for a text view")


def generated_source(fn, file=None):
    """The generated C++ of a compiled function's fused kernels, one after the other, in
    execution order (empty when nothing was fused). ``file`` as for debugprint."""
    text = "".join(f"// ---- kernel {i}\n{src}\n" for i, src in enumerate(fn.kernel_sources()))
    if file == "str":
        return text
    out = sys.stdout if file is None else file
    out.write(text)
    return None if file is None else file
