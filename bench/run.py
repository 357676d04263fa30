"""kiln benchmark runner: each row times kiln and a reference (numpy) in the same run.

    PYTHONPATH=python python3 bench/run.py [--quick] [--json bench/results.json]

Prints a table (median times and the kiln/reference ratio; < 1 means kiln is faster) and writes
the rows as JSON. Rows that have a PyTensor or JAX version time it too when that package is
installed (`pip install pytensor jax`), and say so when it is not.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

import kiln
import kiln.tensor as T


def median_time(fn, repeat, number=1):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


# ---------------------------------------------------------------- peers
# Each peer is imported on first use; an absent one is reported as such, never silently skipped.

def peer(name):
    """The module of peer `name` ('pytensor' or 'jax'), or None when it is not installed."""
    try:
        if name == "pytensor":
            import pytensor
            return pytensor
        import jax
        jax.config.update("jax_enable_x64", True)
        return jax
    except ImportError:
        return None


def time_peers(builders, repeat, number=1, check=None):
    """{peer: seconds, None (absent) or a reason} for each peer in `builders` (name -> lambda module:
    callable, or a string saying why the installed version cannot compute the row).

    `check(result)` asserts the peer's first result agrees with the reference, so a row never times
    a peer computing something else.
    """
    times = {}
    for name, build in builders.items():
        module = peer(name)
        if module is None:
            times[name] = None
            continue
        fn = build(module)
        if isinstance(fn, str):
            times[name] = fn
            continue
        if check is not None:
            check(fn())
        times[name] = median_time(fn, repeat, number)
    return times


def bench_call_overhead(quick):
    x, y = T.dvector(), T.dvector()
    f = kiln.function([x, y], x + y)
    a, b = np.ones(2), np.ones(2)
    number = 2000 if quick else 20000
    return dict(kiln=median_time(lambda: f(a, b), 7, number), reference=median_time(lambda: np.add(a, b), 7, number),
                note="compiled 2-input add on 2-element float64 arrays vs np.add")


def bench_elemwise(quick):
    n = 1_000_000 if quick else 10_000_000
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype("float32") for _ in range(5)]
    a, b, c, d, e = (T.fvector(name) for name in "abcde")
    f = kiln.function([a, b, c, d, e], a * b + c * T.exp(d) - T.log1p(e * e))

    def reference():
        av, bv, cv, dv, ev = arrays
        return av * bv + cv * np.exp(dv) - np.log1p(ev * ev)

    np.testing.assert_allclose(f(*arrays), reference(), rtol=1e-4, atol=1e-4)

    def pytensor_fn(pytensor):
        import pytensor.tensor as pt
        pa, pb, pc, pd, pe = (pt.fvector(name) for name in "abcde")
        g = pytensor.function([pa, pb, pc, pd, pe], pa * pb + pc * pt.exp(pd) - pt.log1p(pe * pe))
        return lambda: g(*arrays)

    def jax_fn(jax):
        jnp = jax.numpy
        g = jax.jit(lambda a, b, c, d, e: a * b + c * jnp.exp(d) - jnp.log1p(e * e))
        device_arrays = [jnp.asarray(v) for v in arrays]
        return lambda: g(*device_arrays).block_until_ready()

    peers = time_peers(dict(pytensor=pytensor_fn, jax=jax_fn), 5,
                       check=lambda r: np.testing.assert_allclose(np.asarray(r), reference(), rtol=1e-4, atol=1e-4))
    return dict(kiln=median_time(lambda: f(*arrays), 5), reference=median_time(reference, 5), peers=peers,
                note=f"a*b + c*exp(d) - log1p(e*e), {n:,} float32; floor at ~37 GB/s: {24 * n / 37e9 * 1e3:.1f} ms")


def bench_sum_exp_mul(quick):
    n = 1_000_000 if quick else 10_000_000
    rng = np.random.default_rng(0)
    xv, yv = (rng.standard_normal(n).astype("float32") for _ in range(2))
    x, y = T.fvector("x"), T.fvector("y")
    f = kiln.function([x, y], T.sum(T.exp(x) * y))
    assert [node.op.kind for node in f.nodes()] == ["CompositeReduce"], "sum(exp(x) * y) is not one fused kernel"
    reference = lambda: np.sum(np.exp(xv) * yv)  # noqa: E731
    expected = np.sum(np.exp(xv.astype("float64")) * yv)
    np.testing.assert_allclose(f(xv, yv), expected, rtol=1e-5)

    def pytensor_fn(pytensor):
        import pytensor.tensor as pt
        px, py = pt.fvector("x"), pt.fvector("y")
        g = pytensor.function([px, py], pt.sum(pt.exp(px) * py))
        return lambda: g(xv, yv)

    def jax_fn(jax):
        jnp = jax.numpy
        g = jax.jit(lambda a, b: jnp.sum(jnp.exp(a) * b))
        ja, jb = jnp.asarray(xv), jnp.asarray(yv)
        return lambda: g(ja, jb).block_until_ready()

    peers = time_peers(dict(pytensor=pytensor_fn, jax=jax_fn), 7,
                       check=lambda r: np.testing.assert_allclose(np.asarray(r), expected, rtol=1e-3))
    return dict(kiln=median_time(lambda: f(xv, yv), 7), reference=median_time(reference, 7), peers=peers,
                note=f"sum(exp(x) * y), {n:,} float32, one fused kernel (no temporary); floor at ~37 GB/s: "
                     f"{8 * n / 37e9 * 1e3:.1f} ms")


def mlp_params(rng):
    w1 = (rng.standard_normal((784, 500)) * 0.05).astype("float32")
    b1 = np.zeros(500, dtype="float32")
    w2 = (rng.standard_normal((500, 10)) * 0.05).astype("float32")
    b2 = np.zeros(10, dtype="float32")
    return w1, b1, w2, b2


def bench_mlp_forward(quick):
    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = mlp_params(rng)
    data = rng.standard_normal((128, 784)).astype("float32")
    x = T.fmatrix("x")
    sw1, sb1, sw2, sb2 = (kiln.shared(v) for v in (w1, b1, w2, b2))
    h = T.tanh(T.dot(x, sw1) + sb1)
    z = T.dot(h, sw2) + sb2
    ez = T.exp(z - z.max(axis=1, keepdims=True))
    p = ez / ez.sum(axis=1, keepdims=True)
    f = kiln.function([x], p)

    def reference():
        hv = np.tanh(data @ w1 + b1)
        zv = hv @ w2 + b2
        ev = np.exp(zv - zv.max(axis=1, keepdims=True))
        return ev / ev.sum(axis=1, keepdims=True)

    np.testing.assert_allclose(f(data), reference(), rtol=1e-4, atol=1e-6)
    repeat = 20 if quick else 100
    return dict(kiln=median_time(lambda: f(data), repeat), reference=median_time(reference, repeat),
                note="784-500-10 tanh/softmax forward, batch 128, float32")


def numpy_softmax_nll(z, labels):
    """The mean negative log-likelihood of `labels` under softmax(z), and its gradient wrt z."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    n = len(labels)
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    p[np.arange(n), labels] -= 1
    return loss, p / n


def bench_mlp_sgd_step(quick):
    rng = np.random.default_rng(0)
    w1, b1, w2, b2 = mlp_params(rng)
    data = rng.standard_normal((128, 784)).astype("float32")
    labels = rng.integers(0, 10, 128)
    lr = np.float32(0.01)
    x, y = T.fmatrix("x"), T.lvector("y")
    params = [kiln.shared(v.copy()) for v in (w1, b1, w2, b2)]
    sw1, sb1, sw2, sb2 = params
    h = T.tanh(T.dot(x, sw1) + sb1)
    p = T.nnet.softmax(T.dot(h, sw2) + sb2)
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    grads = kiln.grad(cost, params)
    step = kiln.function([x, y], cost, updates=[(q, q - lr * g) for q, g in zip(params, grads)])
    ref = [v.copy() for v in (w1, b1, w2, b2)]

    def reference():
        rw1, rb1, rw2, rb2 = ref
        hv = np.tanh(data @ rw1 + rb1)
        loss, dz = numpy_softmax_nll(hv @ rw2 + rb2, labels)
        dw2, db2 = hv.T @ dz, dz.sum(axis=0)
        dh = (dz @ rw2.T) * (1 - hv * hv)
        dw1, db1 = data.T @ dh, dh.sum(axis=0)
        for q, g in zip(ref, (dw1, db1, dw2, db2)):
            q -= lr * g
        return loss

    # Same loss and same updated parameters after one step on both sides.
    np.testing.assert_allclose(step(data, labels), reference(), rtol=1e-4)
    for q, r in zip(params, ref):
        np.testing.assert_allclose(q.get_value(), r, rtol=1e-3, atol=1e-5)
    repeat = 10 if quick else 50
    peers = time_peers(dict(pytensor=lambda m: mlp_sgd_step_pytensor(m, data, labels, lr),
                            jax=lambda m: mlp_sgd_step_jax(m, data, labels, lr)), repeat)
    return dict(kiln=median_time(lambda: step(data, labels), repeat), reference=median_time(reference, repeat),
                peers=peers, note="784-500-10 MLP SGD step (forward, backward, update), batch 128, float32")


def mlp_sgd_step_pytensor(pytensor, data, labels, lr):
    """The same SGD step in PyTensor (its default mode: C backend with its rewrites)."""
    import pytensor.tensor as pt
    params = [pytensor.shared(v.copy()) for v in mlp_params(np.random.default_rng(0))]
    w1, b1, w2, b2 = params
    x, y = pt.fmatrix("x"), pt.lvector("y")
    p = pt.special.softmax(pt.dot(pt.tanh(pt.dot(x, w1) + b1), w2) + b2, axis=-1)
    cost = -pt.mean(pt.log(p)[pt.arange(y.shape[0]), y])
    grads = pytensor.grad(cost, params)
    step = pytensor.function([x, y], cost, updates=[(q, q - lr * g) for q, g in zip(params, grads)])
    return lambda: step(data, labels)


def mlp_sgd_step_jax(jax, data, labels, lr):
    """The same SGD step in JAX."""
    jnp = jax.numpy

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        logp = jax.nn.log_softmax(jnp.tanh(x @ w1 + b1) @ w2 + b2)
        return -jnp.mean(logp[jnp.arange(y.shape[0]), y])

    return jax_sgd_stepper(jax, loss, mlp_params(np.random.default_rng(0)), data, labels, lr)


def jax_sgd_stepper(jax, loss, initial, data, labels, lr):
    """A callable running one SGD step of loss(params, x, y) in JAX per call, from the parameters
    `initial`, as one jitted function from parameters to (loss, new parameters); it returns the loss."""
    @jax.jit
    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return value, [q - lr * g for q, g in zip(params, grads)]

    state = {"params": [jax.numpy.asarray(v) for v in initial]}
    x, y = jax.numpy.asarray(data), jax.numpy.asarray(labels)

    def run():
        value, state["params"] = step(state["params"], x, y)
        return value.block_until_ready()
    return run


def bench_softmax(shape, quick):
    x = np.random.default_rng(0).standard_normal(shape).astype("float32") * 3
    m = T.fmatrix("m")
    f = kiln.function([m], T.nnet.softmax(m))

    def reference():
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    np.testing.assert_allclose(f(x), reference(), rtol=1e-5, atol=1e-7)
    number = max(1, 200_000 // x.size) * (1 if quick else 10)
    return dict(kiln=median_time(lambda: f(x), 7, number), reference=median_time(reference, 7, number),
                note=f"softmax over rows of a {shape[0]}x{shape[1]} float32 matrix (numpy: max/exp/sum/divide)")


def cpu_peak_gflops(dtype):
    """Theoretical peak of this machine: cores x clock x FMA pipes x SIMD lanes x 2 flops per FMA.

    The clock is /proc/cpuinfo's 'cpu MHz' (the nominal clock the kernel reports; turbo can exceed
    it), the SIMD width the widest vector FMA its flags advertise (avx512f: 512 bits, fma + avx2:
    256), and 2 FMA pipes per core (AMD Zen and Intel cores since Haswell). None when /proc/cpuinfo
    says nothing usable.
    """
    try:
        with open("/proc/cpuinfo") as fh:
            info = fh.read()
    except OSError:
        return None, "no /proc/cpuinfo"
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    flags = next((line.split(":")[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    bits = 512 if "avx512f" in flags else 256 if "fma" in flags and "avx2" in flags else 128
    if not mhz:
        return None, "no clock in /proc/cpuinfo"
    lanes = bits // (8 * np.dtype(dtype).itemsize)
    cores = os.cpu_count()
    peak = cores * mhz[0] * 1e-3 * 2 * lanes * 2
    return peak, f"{cores} cores x {mhz[0] / 1e3:.2f} GHz x 2 FMA x {lanes} lanes ({bits}-bit) x 2"


def openblas_peak_gflops(dtype, n=2048, runs=3):
    """What OpenBLAS achieves on this machine now: the best of `runs` n x n matmuls through numpy.

    Measured in the same run as the row, so the kiln/peak ratio compares figures taken under the
    same load; the best run, since a peak is what the library reaches when not interrupted."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    np.matmul(a, b)  # warm-up: thread start, page faults
    best = min(median_time(lambda: np.matmul(a, b), 1) for _ in range(runs))
    return 2.0 * n ** 3 / best / 1e9


def bench_gemm(dtype, quick, n=1024):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    x, y = T.matrix("x", dtype), T.matrix("y", dtype)
    f = kiln.function([x, y], T.dot(x, y))
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-3 if dtype == "float32" else 1e-10, atol=1e-3)
    repeat = 5 if quick else 15
    kiln_s, numpy_s = median_time(lambda: f(a, b), repeat), median_time(lambda: np.matmul(a, b), repeat)
    flops = 2.0 * n ** 3
    kiln_gflops, numpy_gflops = flops / kiln_s / 1e9, flops / numpy_s / 1e9
    achieved = openblas_peak_gflops(dtype)
    peak, how = cpu_peak_gflops(dtype)
    peak_note = f"; theoretical peak {peak:.0f} GFLOP/s = {how}: kiln at {kiln_gflops / peak:.0%}" if peak else ""
    return dict(kiln=kiln_s, reference=numpy_s, kiln_gflops=kiln_gflops, reference_gflops=numpy_gflops,
                openblas_peak_gflops=achieved, peak_gflops=peak,
                note=f"{n}x{n} {dtype} dot (sgemm/dgemm): kiln {kiln_gflops:.0f} vs numpy matmul {numpy_gflops:.0f} "
                     f"GFLOP/s; OpenBLAS peak measured now (best 2048x2048 matmul) {achieved:.0f} GFLOP/s: kiln at "
                     f"{kiln_gflops / achieved:.0%}{peak_note}")


def bench_random(kind, quick):
    from kiln.sandbox.rng_mrg import MRG_RandomStreams
    n = 1_000_000 if quick else 10_000_000
    srng, gen = MRG_RandomStreams(1), np.random.default_rng(0)
    if kind == "uniform":
        f, reference = kiln.function([], srng.uniform((n,), dtype="float32")), lambda: gen.random(n, dtype=np.float32)
    else:
        f = kiln.function([], srng.normal((n,), dtype="float32"))
        reference = lambda: gen.standard_normal(n, dtype=np.float32)  # noqa: E731
    return dict(kiln=median_time(f, 7), reference=median_time(reference, 7),
                note=f"{kind} {n:,} float32: Philox4x32-10 vs numpy's default_rng (PCG64; normal by ziggurat)")


# ---------------------------------------------------------------- convolution
# The reference is numpy's im2col + matmul (the same algorithm kiln runs, on the same OpenBLAS):
# a strided view gathers the patches, one matmul multiplies them by the filters, and for the input
# gradient a loop over the kernel taps scatters the columns back (col2im).

def numpy_columns(x, kh, kw, pad):
    """(channels * kh * kw, batch * out_rows * out_cols) patches of x padded by `pad`, stride 1."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    b, c, h, w = xp.shape
    oh, ow = h - kh + 1, w - kw + 1
    s = xp.strides
    patches = np.lib.stride_tricks.as_strided(xp, (c, kh, kw, b, oh, ow), (s[1], s[2], s[3], s[0], s[2], s[3]))
    return patches.reshape(c * kh * kw, b * oh * ow), (oh, ow)


def numpy_conv_forward(x, w, pad):
    cols, (oh, ow) = numpy_columns(x, w.shape[2], w.shape[3], pad)
    flipped = w[:, :, ::-1, ::-1].reshape(w.shape[0], -1)
    return np.ascontiguousarray((flipped @ cols).reshape(w.shape[0], x.shape[0], oh, ow).transpose(1, 0, 2, 3))


def numpy_conv_grad_inputs(w, g, xshape, pad):
    """The gradient of the true convolution wrt its input x (of shape xshape), given g, the output's
    gradient: col = filters^T . g, then col2im adds each column back where im2col read it."""
    f, c, kh, kw = w.shape
    b, _, oh, ow = g.shape
    top = g.transpose(1, 0, 2, 3).reshape(f, -1)
    dcols = (w[:, :, ::-1, ::-1].reshape(f, -1).T @ top).reshape(c, kh, kw, b, oh, ow)
    gxp = np.zeros((b, c, xshape[2] + 2 * pad, xshape[3] + 2 * pad), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[:, :, i:i + oh, j:j + ow] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return gxp[:, :, pad:pad + xshape[2], pad:pad + xshape[3]]


def numpy_conv_grad_weights(x, g, wshape, pad):
    """The gradient of the true convolution wrt its filters (of shape wshape), given g."""
    cols, _ = numpy_columns(x, wshape[2], wshape[3], pad)
    top = g.transpose(1, 0, 2, 3).reshape(wshape[0], -1)
    return np.ascontiguousarray((top @ cols.T).reshape(wshape)[:, :, ::-1, ::-1])


def numpy_conv_backward(x, w, g, pad):
    """(gradient wrt x, gradient wrt w) of the true convolution, given g, the output's gradient."""
    return numpy_conv_grad_inputs(w, g, x.shape, pad), numpy_conv_grad_weights(x, g, w.shape, pad)


CONV_LAYERS = {"lenet": ((64, 1, 28, 28), (20, 1, 5, 5), "valid", 0),
               "vgg3x3": ((64, 64, 32, 32), (64, 64, 3, 3), "half", 1)}


def pytensor_has_no_conv(pytensor):
    # PyTensor removed tensor.nnet (conv2d, abstract_conv, pooling); what is left, signal.convolve2d,
    # convolves single 2-d arrays, so a batch of multi-channel images is a Blockwise of one scipy
    # call per (image, filter, channel) triple: not the same computation, so not timed.
    return f"no conv2d for batches of multi-channel images (PyTensor {pytensor.__version__} removed tensor.nnet)"


def jax_conv(jax, pad):
    """The true convolution (flipped filters) of NCHW images with OIHW filters, stride 1."""
    def conv(x, w):
        return jax.lax.conv_general_dilated(x, w[:, :, ::-1, ::-1], (1, 1), [(pad, pad), (pad, pad)],
                                            dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return conv


def jax_conv_rows(jax, backward, pad, xv, wv, gv):
    """A callable running the conv row's computation in JAX: the forward convolution, or its vjp
    (gradients wrt input and filters) for gv."""
    conv = jax_conv(jax, pad)
    x, w = jax.numpy.asarray(xv), jax.numpy.asarray(wv)
    if not backward:
        f = jax.jit(conv)
        return lambda: f(x, w).block_until_ready()
    g = jax.numpy.asarray(gv)
    f = jax.jit(lambda x, w, g: jax.vjp(conv, x, w)[1](g))
    return lambda: jax.block_until_ready(f(x, w, g))


def bench_conv(layer, backward, quick):
    from kiln.tensor.nnet import abstract_conv
    xshape, wshape, border_mode, pad = CONV_LAYERS[layer]
    rng = np.random.default_rng(0)
    xv, wv = rng.standard_normal(xshape).astype("float32"), (rng.standard_normal(wshape) * 0.1).astype("float32")
    x, w = T.ftensor4("x"), T.ftensor4("w")
    repeat = 5 if quick else 20
    what = f"{xshape[0]}x{xshape[1]}x{xshape[2]}x{xshape[3]} * {wshape[0]}x{wshape[1]}x{wshape[2]}x{wshape[3]}"
    if not backward:
        f = kiln.function([x, w], T.nnet.conv2d(x, w, border_mode=border_mode))
        want = numpy_conv_forward(xv, wv, pad)
        np.testing.assert_allclose(f(xv, wv), want, rtol=1e-3, atol=1e-3)
        peers = time_peers(dict(pytensor=pytensor_has_no_conv,
                                jax=lambda m: jax_conv_rows(m, False, pad, xv, wv, None)), repeat,
                           check=lambda r: np.testing.assert_allclose(np.asarray(r), want, rtol=1e-3, atol=1e-3))
        return dict(kiln=median_time(lambda: f(xv, wv), repeat),
                    reference=median_time(lambda: numpy_conv_forward(xv, wv, pad), repeat), peers=peers,
                    note=f"conv2d forward {what} '{border_mode}', float32 (numpy: im2col + matmul)")
    g = T.ftensor4("g")
    gv = rng.standard_normal(numpy_conv_forward(xv, wv, pad).shape).astype("float32")
    f = kiln.function([x, w, g], [abstract_conv.conv2d_grad_wrt_inputs(g, w, xshape, border_mode=border_mode),
                                  abstract_conv.conv2d_grad_wrt_weights(x, g, wshape, border_mode=border_mode)])
    wants = numpy_conv_backward(xv, wv, gv, pad)
    for got, want in zip(f(xv, wv, gv), wants):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-2)

    def check(results):
        for got, want in zip(results, wants):
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-3, atol=1e-2)

    peers = time_peers(dict(pytensor=pytensor_has_no_conv, jax=lambda m: jax_conv_rows(m, True, pad, xv, wv, gv)),
                       repeat, check=check)
    return dict(kiln=median_time(lambda: f(xv, wv, gv), repeat),
                reference=median_time(lambda: numpy_conv_backward(xv, wv, gv, pad), repeat), peers=peers,
                note=f"conv2d gradients wrt input and filters {what} '{border_mode}', float32 (numpy: im2col, "
                     "matmul, col2im)")


# ---------------------------------------------------------------- LeNet training step
# The classic LeNet of Theano's tutorial on 28x28 images: conv 5x5 (20 filters) -> 2x2 max pool ->
# tanh, conv 5x5 (50 filters) -> pool -> tanh, a 800-500 tanh layer and a 500-10 softmax layer; one
# SGD step on a batch of 64.

LENET_BATCH = 64


def lenet_params(rng):
    def uniform(shape, fan_in, fan_out):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape).astype("float32")
    return [uniform((20, 1, 5, 5), 25, 20 * 25 / 4), np.zeros(20, "float32"),
            uniform((50, 20, 5, 5), 20 * 25, 50 * 25 / 4), np.zeros(50, "float32"),
            uniform((800, 500), 800, 500), np.zeros(500, "float32"),
            uniform((500, 10), 500, 10), np.zeros(10, "float32")]


def lenet_data(rng):
    return rng.standard_normal((LENET_BATCH, 1, 28, 28)).astype("float32"), rng.integers(0, 10, LENET_BATCH)


def numpy_max_pool(x):
    """2x2 max pooling (stride 2) and the mask of the maxima (a 1 where each window's maximum is)."""
    b, c, h, w = x.shape
    windows = x.reshape(b, c, h // 2, 2, w // 2, 2)
    pooled = windows.max(axis=(3, 5))
    mask = windows == pooled[:, :, :, None, :, None]
    return pooled, mask


def numpy_max_pool_grad(g, mask):
    """The gradient of numpy_max_pool's output g routed to the maxima (random data has no ties)."""
    b, c, h, _, w, _ = mask.shape
    return (mask * g[:, :, :, None, :, None]).reshape(b, c, 2 * h, 2 * w)


def numpy_lenet_step(params, data, labels, lr):
    """One SGD step of LeNet in numpy, updating `params` in place; returns the loss before the step."""
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    p1, m1 = numpy_max_pool(numpy_conv_forward(data, w1, 0))
    a1 = np.tanh(p1 + b1[:, None, None])
    p2, m2 = numpy_max_pool(numpy_conv_forward(a1, w2, 0))
    a2 = np.tanh(p2 + b2[:, None, None])
    flat = a2.reshape(len(data), -1)
    h = np.tanh(flat @ w3 + b3)
    loss, dz = numpy_softmax_nll(h @ w4 + b4, labels)
    dw4, db4 = h.T @ dz, dz.sum(axis=0)
    dh = (dz @ w4.T) * (1 - h * h)
    dw3, db3 = flat.T @ dh, dh.sum(axis=0)
    dp2 = (dh @ w3.T).reshape(a2.shape) * (1 - a2 * a2)
    dc2 = numpy_max_pool_grad(dp2, m2)
    dw2, db2 = numpy_conv_grad_weights(a1, dc2, w2.shape, 0), dp2.sum(axis=(0, 2, 3))
    dp1 = numpy_conv_grad_inputs(w2, dc2, a1.shape, 0) * (1 - a1 * a1)
    dw1, db1 = numpy_conv_grad_weights(data, numpy_max_pool_grad(dp1, m1), w1.shape, 0), dp1.sum(axis=(0, 2, 3))
    for q, g in zip(params, (dw1, db1, dw2, db2, dw3, db3, dw4, db4)):
        q -= lr * g
    return loss


def bench_lenet_sgd_step(quick):
    from kiln.tensor.signal.pool import pool_2d
    rng = np.random.default_rng(0)
    initial = lenet_params(rng)
    data, labels = lenet_data(rng)
    lr = np.float32(0.01)
    x, y = T.ftensor4("x"), T.lvector("y")
    params = [kiln.shared(v.copy()) for v in initial]
    layer = x
    for w, b in (params[0:2], params[2:4]):
        conv = T.nnet.conv2d(layer, w)
        layer = T.tanh(pool_2d(conv, (2, 2), ignore_border=True) + b.dimshuffle("x", 0, "x", "x"))
    h = T.tanh(T.dot(layer.flatten(2), params[4]) + params[5])
    p = T.nnet.softmax(T.dot(h, params[6]) + params[7])
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    grads = kiln.grad(cost, params)
    step = kiln.function([x, y], cost, updates=[(q, q - lr * g) for q, g in zip(params, grads)])
    ref = [v.copy() for v in initial]

    # Same loss and same updated parameters after one step on both sides.
    first_loss = numpy_lenet_step(ref, data, labels, lr)
    np.testing.assert_allclose(step(data, labels), first_loss, rtol=1e-4)
    for q, r in zip(params, ref):
        np.testing.assert_allclose(q.get_value(), r, rtol=1e-3, atol=1e-5)
    repeat = 5 if quick else 20
    peers = time_peers(dict(pytensor=pytensor_has_no_conv, jax=lambda m: lenet_sgd_step_jax(m, data, labels, lr)),
                       repeat, check=lambda r: np.testing.assert_allclose(float(r), first_loss, rtol=1e-4))
    return dict(kiln=median_time(lambda: step(data, labels), repeat),
                reference=median_time(lambda: numpy_lenet_step(ref, data, labels, lr), repeat), peers=peers,
                note=f"LeNet (conv5x5x20-pool-conv5x5x50-pool-500-10, tanh) SGD step, batch {LENET_BATCH} of "
                     "28x28, float32 (numpy: im2col conv, reshape pooling)")


def lenet_sgd_step_jax(jax, data, labels, lr):
    """The same SGD step in JAX."""
    jnp, lax = jax.numpy, jax.lax
    conv = jax_conv(jax, 0)

    def pool(v):
        return lax.reduce_window(v, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(params, x, y):
        w1, b1, w2, b2, w3, b3, w4, b4 = params
        a1 = jnp.tanh(pool(conv(x, w1)) + b1[:, None, None])
        a2 = jnp.tanh(pool(conv(a1, w2)) + b2[:, None, None])
        h = jnp.tanh(a2.reshape(x.shape[0], -1) @ w3 + b3)
        logp = jax.nn.log_softmax(h @ w4 + b4)
        return -jnp.mean(logp[jnp.arange(y.shape[0]), y])

    return jax_sgd_stepper(jax, loss, lenet_params(np.random.default_rng(0)), data, labels, lr)


def compile_time(build, repeat=3, **flags):
    """Median time of kiln.function on a freshly built graph, under the given config flags."""
    times = []
    with kiln.config.change_flags(**flags), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cxx='' warns that kernels run on the interpreter
        for _ in range(repeat):
            inputs, outputs, kwargs = build()
            start = time.perf_counter()
            kiln.function(inputs, outputs, **kwargs)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


# Rewriting and scheduling alone: code generation is off (cxx=''), so the rows measure the graph
# work and not g++ on kernels whose literals differ in every term.
NO_CODEGEN = dict(cxx="")


def bench_compile_chain(quick):
    def build():
        v = T.dvector("v")
        z = v
        for _ in range(3334):
            z = T.exp(z) * 1.0 + 0.5  # 3 nodes per step: about 10,000 in all
        return [v], z, {}
    return dict(kiln=compile_time(build, 1 if quick else 3, **NO_CODEGEN), reference=1.0,
                note="rewrite + schedule a 10,000-node chain (exp, *1, +0.5); reference = the 1 s target")


def bench_compile_wide_sum(quick):
    def build():
        v = T.dvector("v")
        total = T.sin(v)
        for i in range(1, 3334):
            total = total + T.sin(v * float(i))  # 3 nodes per term: about 10,000 in all
        return [v], total, {}
    return dict(kiln=compile_time(build, 1 if quick else 3, **NO_CODEGEN), reference=1.0,
                note="rewrite + schedule a 10,000-node wide sum of elementwise terms; reference = the 1 s target")


def build_mlp_training():
    rng = np.random.default_rng(0)
    x, y = T.fmatrix("x"), T.lvector("y")
    params = [kiln.shared(v) for v in mlp_params(rng)]
    h = T.tanh(T.dot(x, params[0]) + params[1])
    p = T.nnet.softmax(T.dot(h, params[2]) + params[3])
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    grads = kiln.grad(cost, params)
    return [x, y], cost, dict(updates=[(q, q - np.float32(0.01) * g) for q, g in zip(params, grads)])


def bench_compile_mlp_training(quick):
    return dict(kiln=compile_time(build_mlp_training, **NO_CODEGEN), reference=0.2,
                note="rewrite + schedule the MLP SGD step, no code generation; reference = the 200 ms target")


def seconds_in_new_process(code, flags):
    """The number `code` (run with this module importable, under KILN_FLAGS=flags) prints last."""
    env = dict(os.environ, KILN_FLAGS=flags,
               PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(__file__), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def compile_time_in_new_process(compiledir):
    """Compile time of the MLP SGD step in a fresh process (no kernels loaded in memory yet)."""
    return seconds_in_new_process("import run; print(run.compile_time(run.build_mlp_training, 1))",
                                  f"compiledir={compiledir}")


def bench_compile_mlp_training_warm(quick):
    compiledir = kiln.config.compiledir
    compile_time_in_new_process(compiledir)  # fills the kernel cache
    seconds = statistics.median(compile_time_in_new_process(compiledir) for _ in range(3))
    return dict(kiln=seconds, reference=0.1,
                note="compile the MLP SGD step in a new process, kernels in the on-disk cache; reference = the 100 ms target")


def bench_compile_mlp_training_cold(quick):
    with tempfile.TemporaryDirectory() as empty_cache:
        seconds = compile_time_in_new_process(empty_cache)
    return dict(kiln=seconds, reference=3.0,
                note="compile the MLP SGD step in a new process with an empty kernel cache; reference = the 3 s target")


def rnn_data(steps=1000, n_in=100, hidden=100):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((steps, n_in)) * 0.1, np.zeros(hidden), rng.standard_normal((n_in, hidden)) * 0.1,
            rng.standard_normal((hidden, hidden)) * 0.1, np.zeros(hidden))


def rnn_numpy(x, h0, w, u, b, backward):
    """tanh RNN forward (and BPTT of sum(h) when `backward`) as a numpy loop."""
    h, hs = h0, []
    for xt in x:
        h = np.tanh(xt @ w + h @ u + b)
        hs.append(h)
    if not backward:
        return np.array(hs)
    dw, du, db, dh = np.zeros_like(w), np.zeros_like(u), np.zeros_like(b), np.zeros_like(h0)
    for t in reversed(range(len(x))):
        da = (dh + 1.0) * (1 - hs[t] ** 2)
        dw += np.outer(x[t], da)
        du += np.outer(hs[t - 1] if t > 0 else h0, da)
        db += da
        dh = u @ da
    return dw, du, db


def bench_scan_rnn(backward, quick):
    data = rnn_data(steps=200 if quick else 1000)
    x, h0, w, u, b = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("w"), T.dmatrix("u"), T.dvector("b")
    hs, _ = kiln.scan(lambda xt, h, w, u, b: T.tanh(T.dot(xt, w) + T.dot(h, u) + b), sequences=x, outputs_info=h0,
                      non_sequences=[w, u, b])
    outputs = kiln.grad(hs.sum(), [w, u, b]) if backward else hs
    f = kiln.function([x, h0, w, u, b], outputs)
    expected = rnn_numpy(*data, backward)
    check = (lambda r: [np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, atol=1e-9) for g, e in zip(r, expected)]) \
        if backward else (lambda r: np.testing.assert_allclose(np.asarray(r), expected, rtol=1e-9, atol=1e-12))
    check(f(*data))

    def pytensor_fn(pytensor):
        import pytensor.tensor as pt
        px, ph0, pw, pu, pb = pt.dmatrix(), pt.dvector(), pt.dmatrix(), pt.dmatrix(), pt.dvector()
        with warnings.catch_warnings():  # newer PyTensor warns that scan will stop returning updates
            warnings.simplefilter("ignore", DeprecationWarning)
            phs, _ = pytensor.scan(lambda xt, h, w, u, b: pt.tanh(pt.dot(xt, w) + pt.dot(h, u) + b), sequences=px,
                                   outputs_info=ph0, non_sequences=[pw, pu, pb])
        g = pytensor.function([px, ph0, pw, pu, pb], pytensor.grad(phs.sum(), [pw, pu, pb]) if backward else phs)
        return lambda: g(*data)

    def jax_fn(jax):
        jnp = jax.numpy

        def forward(x, h0, w, u, b):
            def step(h, xt):
                h = jnp.tanh(xt @ w + h @ u + b)
                return h, h
            return jax.lax.scan(step, h0, x)[1]
        if backward:
            g = jax.jit(jax.grad(lambda w, u, b, x, h0: forward(x, h0, w, u, b).sum(), argnums=(0, 1, 2)))
            args = [jnp.asarray(a) for a in (data[2], data[3], data[4], data[0], data[1])]
            return lambda: jax.block_until_ready(g(*args))
        g = jax.jit(forward)
        args = [jnp.asarray(a) for a in data]
        return lambda: g(*args).block_until_ready()

    repeat = 3 if quick else 7
    peers = time_peers(dict(pytensor=pytensor_fn, jax=jax_fn), repeat, check=check)
    steps = len(data[0])
    return dict(kiln=median_time(lambda: f(*data), repeat), reference=median_time(lambda: rnn_numpy(*data, backward), repeat),
                peers=peers, note=f"tanh RNN, hidden 100, {steps} steps, float64, "
                                  f"{'forward + BPTT gradients of W, U, b' if backward else 'forward'}; "
                                  "peers: PyTensor scan, JAX lax.scan")


def bench_scan_overhead(quick):
    steps = 10_000 if quick else 100_000
    x0 = T.dscalar("x0")
    out, _ = kiln.scan(lambda x: x + 1, outputs_info=x0, n_steps=steps)
    f = kiln.function([x0], out[-1])
    assert f(0.0) == steps
    per_step = median_time(lambda: f(0.0), 5) / steps
    return dict(kiln=per_step, reference=2e-6,
                note=f"scan of x + 1 over {steps:,} steps, time per step; reference: the 2 us per-step target")
def first_call_latency():
    """kiln.function plus the first call of the MLP SGD step, in seconds."""
    inputs, outputs, kwargs = build_mlp_training()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=128)
    start = time.perf_counter()
    kiln.function(inputs, outputs, **kwargs)(x, y)
    return time.perf_counter() - start


def first_call_latency_in_new_process(compiledir, tiered):
    return seconds_in_new_process("import run; print(run.first_call_latency())",
                                  f"compiledir={compiledir},tiered_compile={tiered}")


def bench_first_call_latency_cold(quick):
    times = {}
    for tiered in (True, False):
        runs = []
        for _ in range(1 if quick else 3):
            with tempfile.TemporaryDirectory() as empty_cache:
                runs.append(first_call_latency_in_new_process(empty_cache, tiered))
        times[tiered] = statistics.median(runs)
    return dict(kiln=times[True], reference=times[False],
                note="kiln.function + first call of the MLP SGD step in a new process with an empty kernel cache, "
                     "tiered_compile=True; reference = the same with tiered_compile=False")


def bench_first_call_latency_warm(quick):
    compiledir = kiln.config.compiledir
    first_call_latency_in_new_process(compiledir, False)  # fills the kernel cache
    times = {tiered: statistics.median(first_call_latency_in_new_process(compiledir, tiered)
                                       for _ in range(1 if quick else 3)) for tiered in (True, False)}
    return dict(kiln=times[True], reference=times[False],
                note="kiln.function + first call of the MLP SGD step in a new process, kernels in the on-disk cache, "
                     "tiered_compile=True; reference = the same with tiered_compile=False")


BENCHMARKS = {
    "call_overhead_add_2xf64": bench_call_overhead,
    "elemwise_5op_10M_f32": bench_elemwise,
    "sum_exp_mul_10M_f32": bench_sum_exp_mul,
    "softmax_128x10_f32": lambda quick: bench_softmax((128, 10), quick),
    "softmax_1000x1000_f32": lambda quick: bench_softmax((1000, 1000), quick),
    "gemm_1024_f32": lambda quick: bench_gemm("float32", quick),
    "gemm_1024_f64": lambda quick: bench_gemm("float64", quick),
    "random_uniform_10M_f32": lambda quick: bench_random("uniform", quick),
    "random_normal_10M_f32": lambda quick: bench_random("normal", quick),
    "mlp_forward_784_500_10_b128": bench_mlp_forward,
    "mlp_sgd_step_784_500_10_b128": bench_mlp_sgd_step,
    "lenet_sgd_step_b64": bench_lenet_sgd_step,
    "conv2d_lenet_5x5_fwd_b64": lambda quick: bench_conv("lenet", False, quick),
    "conv2d_lenet_5x5_bwd_b64": lambda quick: bench_conv("lenet", True, quick),
    "conv2d_vgg_3x3_fwd_b64": lambda quick: bench_conv("vgg3x3", False, quick),
    "conv2d_vgg_3x3_bwd_b64": lambda quick: bench_conv("vgg3x3", True, quick),
    "scan_rnn_tanh_h100_T1000_fwd": lambda quick: bench_scan_rnn(False, quick),
    "scan_rnn_tanh_h100_T1000_fwd_bwd": lambda quick: bench_scan_rnn(True, quick),
    "scan_overhead_per_step": bench_scan_overhead,
    "compile_chain_10k_nodes": bench_compile_chain,
    "compile_wide_sum_10k_nodes": bench_compile_wide_sum,
    "compile_mlp_training": bench_compile_mlp_training,
    "compile_mlp_training_warm_cache": bench_compile_mlp_training_warm,
    "compile_mlp_training_cold_cache": bench_compile_mlp_training_cold,
    "first_call_latency_mlp_cold_cache_tiered": bench_first_call_latency_cold,
    "first_call_latency_mlp_warm_cache_tiered": bench_first_call_latency_warm,
}


def fmt(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:9.2f} us"
    return f"{seconds * 1e3:9.2f} ms"


def peers_text(row):
    """'; pytensor 3.1 ms (kiln/pytensor 0.84), jax not installed' for a row that times peers."""
    parts = []
    for name, seconds in row.get("peers", {}).items():
        if seconds is None:
            parts.append(f"{name} not installed")
        elif isinstance(seconds, str):
            parts.append(f"{name}: {seconds}")
        else:
            parts.append(f"{name} {fmt(seconds).strip()} (kiln/{name} {row['kiln'] / seconds:.2f})")
    return "; " + ", ".join(parts) if parts else ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results.json"))
    parser.add_argument("--only", nargs="*", help="run only these rows")
    args = parser.parse_args()
    rows = []
    print(f"{'benchmark':32} {'kiln':>12} {'reference':>12} {'ratio':>7}  note (reference: numpy unless noted)")
    for name, fn in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        r = fn(args.quick)
        r["name"], r["ratio"] = name, r["kiln"] / r["reference"]
        rows.append(r)
        print(f"{name:32} {fmt(r['kiln'])} {fmt(r['reference'])} {r['ratio']:7.2f}  {r['note']}{peers_text(r)}",
              flush=True)
    meta = dict(machine=platform.machine(), cpus=os.cpu_count(), numpy=np.__version__,
                openblas_coretype=os.environ.get("OPENBLAS_CORETYPE"), quick=args.quick)
    with open(args.json, "w") as fh:
        json.dump(dict(meta=meta, rows=rows), fh, indent=2)


if __name__ == "__main__":
    main()
