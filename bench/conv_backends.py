"""Times kiln's two convolution backends against each other, kernel by kernel, on a set of float32
layers (batch 64): im2col + GEMM (conv_backend=im2col) and oneDNN (conv_backend=onednn). Prints the
im2col/oneDNN time ratio of the forward, input-gradient and weight-gradient kernels (> 1: oneDNN
faster); src/ops/conv_onednn.cpp's conv_backend=auto rule is drawn from this table.

  PYTHONPATH=python python3 bench/conv_backends.py [substring of a layer name ...]
"""
import sys
import time

import numpy as np

import kiln
import kiln.tensor as T
from kiln.tensor.nnet import abstract_conv as AC

HALF = dict(border_mode="half")
LAYERS = {  # name: (input shape, filter shape, conv2d options)
    "1x28->20 5x5 (LeNet conv1)": ((64, 1, 28, 28), (20, 1, 5, 5), {}),
    "3x32->64 3x3": ((64, 3, 32, 32), (64, 3, 3, 3), HALF),
    "2x28->8 5x5": ((64, 2, 28, 28), (8, 2, 5, 5), {}),
    "4x32->16 3x3": ((64, 4, 32, 32), (16, 4, 3, 3), HALF),
    "8x32->8 3x3": ((64, 8, 32, 32), (8, 8, 3, 3), HALF),
    "16x32->16 3x3": ((64, 16, 32, 32), (16, 16, 3, 3), HALF),
    "20x12->50 5x5 (LeNet conv2)": ((64, 20, 12, 12), (50, 20, 5, 5), {}),
    "32x32->32 3x3": ((64, 32, 32, 32), (32, 32, 3, 3), HALF),
    "32x16->64 3x3": ((64, 32, 16, 16), (64, 32, 3, 3), HALF),
    "64x32->64 3x3 (VGG)": ((64, 64, 32, 32), (64, 64, 3, 3), HALF),
    "64x16->64 3x3 dilation 2": ((64, 64, 16, 16), (64, 64, 3, 3), dict(HALF, filter_dilation=(2, 2))),
    "64x32->128 3x3 stride 2": ((64, 64, 32, 32), (128, 64, 3, 3), dict(HALF, subsample=(2, 2))),
    "128x16->128 1x1": ((64, 128, 16, 16), (128, 128, 1, 1), {}),
    "256x8->256 3x3": ((64, 256, 8, 8), (256, 256, 3, 3), HALF),
    "64x16->64 3x3 4 groups": ((64, 64, 16, 16), (64, 16, 3, 3), dict(HALF, num_groups=4)),
    "32x16->32 3x3 depthwise": ((64, 32, 16, 16), (32, 1, 3, 3), dict(HALF, num_groups=32)),
}


def median_ms(f, args, repeat):
    f(*args)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def kernels(xshape, wshape, options, rng):
    """{kernel name: (function, arguments)} for the layer's three kernels."""
    x, w, g = T.ftensor4("x"), T.ftensor4("w"), T.ftensor4("g")
    xv, wv = rng.standard_normal(xshape).astype("float32"), rng.standard_normal(wshape).astype("float32")
    forward = kiln.function([x, w], T.nnet.conv2d(x, w, **options))
    gv = rng.standard_normal(forward(xv, wv).shape).astype("float32")
    return {"forward": (forward, (xv, wv)),
            "input grad": (kiln.function([w, g], AC.conv2d_grad_wrt_inputs(g, w, xshape, **options)), (wv, gv)),
            "weight grad": (kiln.function([x, g], AC.conv2d_grad_wrt_weights(x, g, wshape, **options)), (xv, gv))}


def main(only):
    if not kiln._core.has_onednn:
        sys.exit("kiln was built without oneDNN")
    rng = np.random.default_rng(0)
    print(f"{'layer':30s}" + "".join(f"{k:>30s}" for k in ("forward", "input grad", "weight grad")))
    print(f"{'':30s}" + f"{'im2col/oneDNN ms, ratio':>30s}" * 3)
    for name, (xshape, wshape, options) in LAYERS.items():
        if only and not any(o in name for o in only):
            continue
        flops = 2 * np.prod(xshape) * np.prod(wshape[:1] + wshape[2:])
        repeat = 5 if flops > 1e9 else 20
        cells = []
        for f, args in kernels(xshape, wshape, options, rng).values():
            best = {}
            for _ in range(2):  # alternate the backends, keep the better median of each
                for backend in ("im2col", "onednn"):
                    with kiln.config.change_flags(conv_backend=backend):
                        best[backend] = min(best.get(backend, np.inf), median_ms(f, args, repeat))
            cells.append(f"{best['im2col']:8.2f}/{best['onednn']:8.2f} {best['im2col'] / best['onednn']:5.2f}")
        print(f"{name:30s}" + "".join(f"{c:>30s}" for c in cells), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
