"""Helpers of the rewrite tests: the op kinds of a compiled function, and a function compiled with
and without rewrites."""
import kiln


def kinds(f):
    return [node.op.kind for node in f.nodes()]


def compile_both(inputs, outputs):
    """(FAST_RUN without fusion, NONE): fusion would hide the rewritten nodes in a Composite."""
    with kiln.config.change_flags(optimizer_excluding="fusion"):
        fast = kiln.function(inputs, outputs, on_unused_input="ignore")
    return fast, kiln.function(inputs, outputs, mode="NONE", on_unused_input="ignore")
