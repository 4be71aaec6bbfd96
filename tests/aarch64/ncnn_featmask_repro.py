"""Minimal repro: ncnn's per-layer feature mask `31=2`/`31=3` (no fp16 storage) crashes on fp16-capable ARM cores.

    python ncnn_featmask_repro.py MASK [storage-only]      MASK: 0..3 → prints max|ncnn − numpy| or crashes

Input → Convolution (1×1, 16 ch) → Reduction (L2 over w, 31=MASK) → BinaryOp (×0.5, 31=MASK), fp16 storage +
packing on. Measured with the ncnn 1.0.20261020 aarch64 wheel under qemu-user 7.2: cortex-a72 (no asimdhp) gives
the numpy result for every mask; cortex-a76 gives it for masks 0 and 1 and aborts ("pool allocator get wild",
segfault) for masks 2 and 3 — also with fp16 *arithmetic* off ("storage-only"), so no fp16 arithmetic instruction
of the emulator is involved. Cause, in ncnn's src/net.cpp `convert_layout`: an fp16 bottom blob is cast back to
fp32 only `if (opt.use_fp16_storage && cpu_support_arm_asimdhp() && !layer->support_fp16_storage)`, with the
layer's *masked* options, so a layer whose mask turns fp16 storage off gets the fp16 blob uncast and treats it as
fp32. That is ncnn's bug, not the emulator's; on a72 the convolution never outputs fp16, so nothing happens.
"""
import struct
import sys

import ncnn
import numpy as np

mask = int(sys.argv[1])
storage_only = len(sys.argv) > 2
C, H, W = 16, 8, 48
rng = np.random.default_rng(0)
w = rng.standard_normal((C, C)).astype(np.float32) * 0.3
b = rng.standard_normal(C).astype(np.float32)
m = f" 31={mask}" if mask else ""
with open("m.param", "w") as f:
    f.write(f"""7767517
4 4
Input            in0    0 1 in0 0={W} 1={H} 2={C}
Convolution      conv   1 1 in0 c 0={C} 1=1 5=1 6={C * C}
Reduction        norm   1 1 c n 0=8 1=0 -23303=1,-1 4=1 5=1{m}
BinaryOp         mul    1 1 n out0 0=2 1=1 2=0.5{m}
""")
with open("m.bin", "wb") as f:
    f.write(struct.pack("<i", 0) + w.tobytes() + b.tobytes())
net = ncnn.Net()
net.opt.num_threads = 1
net.opt.use_vulkan_compute = False
net.opt.use_fp16_packed = net.opt.use_fp16_storage = True
net.opt.use_fp16_arithmetic = not storage_only
assert net.load_param("m.param") == 0 and net.load_model("m.bin") == 0
x = rng.standard_normal((C, H, W)).astype(np.float32)
ex = net.create_extractor()
ex.input("in0", ncnn.Mat(x))
ret, out = ex.extract("out0")
conv = np.einsum("oi,ihw->ohw", w, x) + b[:, None, None]
ref = np.sqrt((conv ** 2).sum(-1, keepdims=True)) * 0.5
print(f"mask={mask} fp16_arithmetic={not storage_only} ret={ret} "
      f"max|diff|={np.abs(np.array(out).reshape(ref.shape) - ref).max():.3g} (max {ref.max():.3g})")
