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
