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
    """{peer: seconds or None (absent)} for each peer in `builders` (name -> lambda module: callable).

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
        z = hv @ rw2 + rb2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        pv = e / e.sum(axis=1, keepdims=True)
        n = len(labels)
        loss = -np.mean(np.log(pv[np.arange(n), labels]))
        dz = pv.copy()
        dz[np.arange(n), labels] -= 1
        dz /= n
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
    """The same SGD step in JAX: one jitted function from parameters to (loss, new parameters)."""
    jnp = jax.numpy

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        logp = jax.nn.log_softmax(jnp.tanh(x @ w1 + b1) @ w2 + b2)
        return -jnp.mean(logp[jnp.arange(y.shape[0]), y])

    @jax.jit
    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return value, [q - lr * g for q, g in zip(params, grads)]

    state = {"params": [jnp.asarray(v) for v in mlp_params(np.random.default_rng(0))]}
    x, y = jnp.asarray(data), jnp.asarray(labels)

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


def bench_gemm(dtype, quick, n=1024):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    x, y = T.matrix("x", dtype), T.matrix("y", dtype)
    f = kiln.function([x, y], T.dot(x, y))
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-3 if dtype == "float32" else 1e-10, atol=1e-3)
    repeat = 5 if quick else 15
    kiln_s, numpy_s = median_time(lambda: f(a, b), repeat), median_time(lambda: np.matmul(a, b), repeat)
    flops = 2.0 * n ** 3
    peak, how = cpu_peak_gflops(dtype)
    peak_note = f"; peak {peak:.0f} GFLOP/s = {how}: kiln at {flops / kiln_s / 1e9 / peak:.0%}" if peak else ""
    return dict(kiln=kiln_s, reference=numpy_s, kiln_gflops=flops / kiln_s / 1e9, reference_gflops=flops / numpy_s / 1e9,
                peak_gflops=peak,
                note=f"{n}x{n} {dtype} dot (sgemm/dgemm): kiln {flops / kiln_s / 1e9:.0f} vs numpy matmul "
                     f"{flops / numpy_s / 1e9:.0f} GFLOP/s{peak_note}")


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


def numpy_conv_backward(x, w, g, pad):
    """(gradient wrt x, gradient wrt w) of the true convolution, given g, the output's gradient."""
    f, c, kh, kw = w.shape
    b, _, oh, ow = g.shape
    cols, _ = numpy_columns(x, kh, kw, pad)
    top = g.transpose(1, 0, 2, 3).reshape(f, -1)
    gw = (top @ cols.T).reshape(w.shape)[:, :, ::-1, ::-1]
    dcols = (w[:, :, ::-1, ::-1].reshape(f, -1).T @ top).reshape(c, kh, kw, b, oh, ow)
    gxp = np.zeros((b, c, x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[:, :, i:i + oh, j:j + ow] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return gxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], np.ascontiguousarray(gw)


CONV_LAYERS = {"lenet": ((64, 1, 28, 28), (20, 1, 5, 5), "valid", 0),
               "vgg3x3": ((64, 64, 32, 32), (64, 64, 3, 3), "half", 1)}


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
        np.testing.assert_allclose(f(xv, wv), numpy_conv_forward(xv, wv, pad), rtol=1e-3, atol=1e-3)
        return dict(kiln=median_time(lambda: f(xv, wv), repeat),
                    reference=median_time(lambda: numpy_conv_forward(xv, wv, pad), repeat),
                    note=f"conv2d forward {what} '{border_mode}', float32 (numpy: im2col + matmul)")
    g = T.ftensor4("g")
    gv = rng.standard_normal(numpy_conv_forward(xv, wv, pad).shape).astype("float32")
    f = kiln.function([x, w, g], [abstract_conv.conv2d_grad_wrt_inputs(g, w, xshape, border_mode=border_mode),
                                  abstract_conv.conv2d_grad_wrt_weights(x, g, wshape, border_mode=border_mode)])
    for got, want in zip(f(xv, wv, gv), numpy_conv_backward(xv, wv, gv, pad)):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-2)
    return dict(kiln=median_time(lambda: f(xv, wv, gv), repeat),
                reference=median_time(lambda: numpy_conv_backward(xv, wv, gv, pad), repeat),
                note=f"conv2d gradients wrt input and filters {what} '{border_mode}', float32 (numpy: im2col, "
                     "matmul, col2im)")


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
    "softmax_128x10_f32": lambda quick: bench_softmax((128, 10), quick),
    "softmax_1000x1000_f32": lambda quick: bench_softmax((1000, 1000), quick),
    "gemm_1024_f32": lambda quick: bench_gemm("float32", quick),
    "gemm_1024_f64": lambda quick: bench_gemm("float64", quick),
    "random_uniform_10M_f32": lambda quick: bench_random("uniform", quick),
    "random_normal_10M_f32": lambda quick: bench_random("normal", quick),
    "mlp_forward_784_500_10_b128": bench_mlp_forward,
    "mlp_sgd_step_784_500_10_b128": bench_mlp_sgd_step,
    "conv2d_lenet_5x5_fwd_b64": lambda quick: bench_conv("lenet", False, quick),
    "conv2d_lenet_5x5_bwd_b64": lambda quick: bench_conv("lenet", True, quick),
    "conv2d_vgg_3x3_fwd_b64": lambda quick: bench_conv("vgg3x3", False, quick),
    "conv2d_vgg_3x3_bwd_b64": lambda quick: bench_conv("vgg3x3", True, quick),
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
        parts.append(f"{name} not installed" if seconds is None
                     else f"{name} {fmt(seconds).strip()} (kiln/{name} {row['kiln'] / seconds:.2f})")
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
