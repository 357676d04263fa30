"""kiln.printing: debugprint and pprint text, as theano.printing prints it."""
import io

import numpy as np
import pytest

import kiln
import kiln.tensor as T
from kiln.printing import debugprint, pprint


def test_debugprint_theano_format():
    x, y = T.matrix("x"), T.matrix("y")
    z = x * np.float64(2.0) + y
    assert debugprint(z, file="str") == (
        "Elemwise{add} [id A] ''\n"
        " |Elemwise{mul} [id B] ''\n"
        " | |x [id C]\n"
        " | |TensorConstant{2.0} [id D]\n"
        " |y [id E]\n")


def test_debugprint_prints_to_stdout_or_a_file(capsys):
    x = T.vector("x")
    assert debugprint(T.exp(x)) is None
    assert capsys.readouterr().out == "Elemwise{exp} [id A] ''\n |x [id B]\n"
    buf = io.StringIO()
    assert debugprint(T.exp(x), file=buf) is buf
    assert buf.getvalue() == "Elemwise{exp} [id A] ''\n |x [id B]\n"


def test_debugprint_repeated_node_is_a_reference_line():
    x = T.matrix("x")
    m = T.exp(x)
    m.name = "m"
    assert debugprint(m * m, file="str") == (
        "Elemwise{mul} [id A] ''\n"
        " |Elemwise{exp} [id B] 'm'\n"
        " | |x [id C]\n"
        " |Elemwise{exp} [id B] 'm'\n")
    # A list shares the ids: the second tree refers to the first one's lines.
    assert debugprint([m, m + x], file="str") == (
        "Elemwise{exp} [id A] 'm'\n"
        " |x [id B]\n"
        "Elemwise{add} [id C] ''\n"
        " |Elemwise{exp} [id A] 'm'\n"
        " |x [id B]\n")


def test_debugprint_multiple_outputs_and_apply_nodes():
    x = T.vector("x")
    a, b = T.split(x, [2, 3], 2)
    text = debugprint(b.sum() - a.sum(), file="str")
    assert " | |Split{n_splits=2, axis=0}.1 [id C] ''\n |   |x [id D]\n" in text
    assert text.endswith("   |Split{n_splits=2, axis=0}.0 [id C] ''\n")
    # A FunctionGraph prints its outputs (copies of the originals, so ids start again).
    assert debugprint(T.FunctionGraph([x], [T.exp(x)]), file="str") == "Elemwise{exp} [id A] ''\n |x [id B]\n"
    # An Apply node prints all its outputs.
    assert debugprint(a.owner, file="str").startswith("Split{n_splits=2, axis=0}.0 [id A] ''\n |x [id B]\n")


def test_debugprint_print_type_and_ids():
    x = T.matrix("x", dtype="float32")
    z = T.tanh(x) + x
    assert debugprint(z, print_type=True, file="str") == (
        "Elemwise{add} [id A] <TensorType(float32, matrix)> ''\n"
        " |Elemwise{tanh} [id B] <TensorType(float32, matrix)> ''\n"
        " | |x [id C] <TensorType(float32, matrix)>\n"
        " |x [id C] <TensorType(float32, matrix)>\n")
    assert debugprint(z, ids="int", file="str") == (
        "Elemwise{add} [id 0] ''\n |Elemwise{tanh} [id 1] ''\n | |x [id 2]\n |x [id 2]\n")
    assert debugprint(z, ids="", file="str") == "Elemwise{add} ''\n |Elemwise{tanh} ''\n | |x\n |x\n"
    with pytest.raises(ValueError, match="ids must be"):
        debugprint(z, ids="hex", file="str")


def test_debugprint_depth_and_stop_on_name():
    x = T.matrix("x")
    h = T.tanh(x)
    h.name = "h"
    z = T.exp(h)
    assert debugprint(z, depth=1, file="str") == "Elemwise{exp} [id A] ''\n"
    assert debugprint(z, stop_on_name=True, file="str") == "Elemwise{exp} [id A] ''\n |Elemwise{tanh} [id B] 'h'\n"


def test_debugprint_compiled_function():
    x = T.vector("x")
    w = kiln.shared(np.zeros(3), name="w")
    f = kiln.function([x], T.exp(x * w), updates=[(w, w + x)], name="step")
    assert debugprint(f, file="str") == (
        "Function 'step'\n"
        "Composite{exp((i0 * i1))} [id A] '' 0\n"
        " |x [id B]\n"
        " |w [id C]\n")
    with kiln.config.change_flags(optimizer_excluding="fusion"):
        g = kiln.function([x], T.exp(x * w), name="step")
    assert debugprint(g, file="str") == (
        "Function 'step'\n"
        "Elemwise{exp,inplace} [id A] '' 1\n"
        " |Elemwise{mul} [id B] '' 0\n"
        "   |x [id C]\n"
        "   |w [id D]\n")


def test_debugprint_rejects_other_objects():
    with pytest.raises(TypeError, match="debugprint: expected a variable"):
        debugprint(3, file="str")
    with pytest.raises(ValueError, match="file must be"):
        debugprint(T.vector("x"), file="out.txt")


def test_debugprint_deep_chain_does_not_recurse():
    x = T.scalar("x")
    z = x
    for _ in range(100000):
        z = z + 1.0
    text = debugprint(z, file="str")
    lines = text.splitlines()
    assert len(lines) == 200001 + 999  # plus the first lines of blocks continued below
    assert max(len(line) for line in lines) <= 260
    assert lines[100].endswith("(continued below)")
    assert text.count("|x [id ") == 1


def test_pprint_precedence_and_parentheses():
    a, b, c = T.matrices("a b c")
    assert pprint((a + b) * c) == "(a + b) * c"
    assert pprint(a + b * c) == "a + b * c"
    assert pprint(a - (b - c)) == "a - (b - c)"
    assert pprint(a - b - c) == "a - b - c"
    assert pprint(-(a + b)) == "-(a + b)"
    assert pprint(a ** -b) == "a ** -b"
    assert pprint((-a) ** b) == "(-a) ** b"
    assert pprint(a ** b ** c) == "a ** b ** c"
    assert pprint((a ** b) ** c) == "(a ** b) ** c"
    assert pprint(a / (b // c)) == "a / (b // c)"
    assert pprint(a % b * c) == "a % b * c"
    assert pprint((a < b) | (a >= c)) == "(a < b) | (a >= c)"
    assert pprint(T.eq(a + b, c)) == "a + b == c"


def test_pprint_calls_and_other_ops():
    x, w = T.matrix("x"), T.matrix("w")
    s = T.scalar("s")
    assert pprint(T.exp(x) * s) == "exp(x) * s"
    assert pprint(T.dot(x, w).T) == "dot(x, w).T"
    assert pprint(x.sum(axis=1)) == "sum(x, axis=[1])"
    assert pprint(x.dimshuffle(1, "x", 0)) == "x.dimshuffle(1,'x',0)"
    assert pprint(x[1:3, 0]) == "x[1:3, 0]"
    assert pprint(T.set_subtensor(x[0], w[1])) == "set_subtensor(x[0], w[1])"
    assert pprint(T.cast(x, "int32")) == "cast(x, 'int32')"
    assert pprint(x * 2) == "x * 2"
    assert pprint(x * -0.5) == "x * -0.5"
    assert pprint(T.matrix() + x) == "<TensorType(float64, matrix)> + x"
    assert pprint(T.constant(np.array([1, 2, 3]))) == "TensorConstant{[1, 2, 3]}"
    assert kiln.pp is pprint and kiln.printing.pp is pprint


def test_pprint_long_sum_does_not_recurse():
    x = T.scalar("x")
    z = x
    for _ in range(10000):
        z = z + 1.0
    text = pprint(z)
    assert text.startswith("x + 1.0 + 1.0") and "(" not in text
    assert len(text) == 1 + 10000 * len(" + 1.0")


def test_pprint_refuses_formulas_that_reuse_results_exponentially():
    z = T.scalar("x")
    for _ in range(50):
        z = z * z
    with pytest.raises(ValueError, match="use debugprint"):
        pprint(z)
    assert len(debugprint(z, file="str").splitlines()) == 50 * 2 + 1


def test_pydotprint_says_why_it_is_missing():
    with pytest.raises(NotImplementedError, match="graphviz"):
        kiln.printing.pydotprint(T.vector("x"))
