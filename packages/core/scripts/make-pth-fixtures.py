#!/usr/bin/python3
"""Writes the small PyTorch fixtures used by packages/core/test/io-pth.test.ts.

Needs PyTorch (Debian: `apt-get install -y python3-torch`, then run with /usr/bin/python3):

    /usr/bin/python3 packages/core/scripts/make-pth-fixtures.py

Outputs into packages/core/test/fixtures/:
  *.pth                 checkpoints written by torch.save (zip format)
  legacy.pth            the pre-1.6 non-zip format (must be rejected)
  deflate.pth           dtypes.pth re-zipped with deflate compression
  missing-entry.pth     dtypes.pth without one storage entry
  malicious.pth         a pickle whose __reduce__ names os.system (must be rejected, never run)
  golden.safetensors    written by an independent Python encoder that follows the Rust reference
  expected.json         every tensor's dtype, shape and exact values (float16/bfloat16 as bit patterns,
                        int64 as decimal strings), plus the expected path/extra of each checkpoint
Tests never need Python; rerun this script only to regenerate the fixtures.
"""
import collections
import io
import json
import os
import struct
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
g = torch.Generator().manual_seed(1234)


def randn(*shape):
    return torch.randn(*shape, generator=g)


def describe(t):
    t = t.detach().contiguous()
    dtype = {
        torch.float64: "float64", torch.float32: "float32", torch.float16: "float16",
        torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
        torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
    }[t.dtype]
    flat = t.reshape(-1)
    if dtype in ("float16", "bfloat16"):
        data = [int(v) & 0xFFFF for v in flat.view(torch.int16).tolist()]
    elif dtype == "int64":
        data = [str(v) for v in flat.tolist()]
    elif dtype == "bool":
        data = [1 if v else 0 for v in flat.tolist()]
    else:
        data = flat.tolist()
    return {"dtype": dtype, "shape": list(t.shape), "data": data}


expected = {}


def save(name, obj, tensors, path, extra, **kw):
    torch.save(obj, os.path.join(OUT, name), **kw)
    expected[name] = {
        "path": path,
        "extra": extra,
        "tensors": {k: describe(v) for k, v in tensors.items()},
    }


# 1. every dtype, top-level dict
dtypes = {
    "f32": randn(3, 4),
    "f32_scalar": torch.tensor(2.5),
    "f32_empty": torch.zeros(0, 3),
    "f64": randn(2, 2).double(),
    "f16": (randn(5) * 100).half(),
    "f16_special": torch.tensor([float("inf"), float("-inf"), 65504.0, 6e-8, -0.0, 1.0 / 3]).half(),
    "bf16": (randn(2, 3) * 1e3).bfloat16(),
    "i64": torch.tensor([0, -1, 2**31 - 1, -(2**31), 7]),
    "i64_big": torch.tensor([2**40, -(2**53) - 1]),
    "i32": torch.tensor([[1, -2], [3, 2**31 - 1]], dtype=torch.int32),
    "i16": torch.tensor([-300, 300], dtype=torch.int16),
    "i8": torch.tensor([-128, 127], dtype=torch.int8),
    "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
}
save("dtypes.pth", dtypes, dtypes, [], {})

# 2. views: transposed, sliced with a storage offset, strided, expanded (stride 0), shared storage
base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
views = {
    "base": base,
    "transposed": base.t(),
    "sliced": base[1:3, 2:5],
    "strided": base[::2, ::3],
    "row": base[2],
    "expanded": torch.tensor([1.0, 2.0, 3.0]).expand(2, 3),
    "permuted": torch.arange(24, dtype=torch.int64).reshape(2, 3, 4).permute(2, 0, 1),
    "half_t": randn(3, 2).half().t(),
}
views["shared_a"] = torch.arange(10, dtype=torch.float32)
views["shared_b"] = views["shared_a"][3:7]
save("views.pth", views, views, [], {})

# 3. a real module's state_dict (OrderedDict with _metadata; BatchNorm's int64 num_batches_tracked)
net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2, bias=False))
with torch.no_grad():
    net[1].running_mean.copy_(randn(3))
    net[1].num_batches_tracked.fill_(5)
sd = net.state_dict()
assert isinstance(sd, collections.OrderedDict)
save("ordered.pth", sd, sd, [], {})

# 4. nested under 'model' with training extras; under 'module' (DataParallel-style); under 'state_dict'
small = collections.OrderedDict(
    [("blocks.0.attn.qkv.weight", randn(6, 2)), ("pos_embed", randn(1, 3, 2)), ("head.bias", torch.zeros(2))]
)
opt = torch.optim.SGD([torch.nn.Parameter(randn(2))], lr=0.1, momentum=0.9)
opt.zero_grad()
list(opt.param_groups[0]["params"])[0].grad = torch.ones(2)
opt.step()
save(
    "nested-model.pth",
    {"model": small, "optimizer": opt.state_dict(), "epoch": 7, "best_acc": 81.5, "arch": "fluxvit_tiny",
     "config": {"lr": 0.001, "depths": [1, 2], "ema": None, "flag": True}},
    small, ["model"], {"epoch": 7, "best_acc": 81.5, "arch": "fluxvit_tiny",
                       "config": {"lr": 0.001, "depths": [1, 2], "ema": None, "flag": True}},
)
save("nested-module.pth", {"module": small, "step": 12}, small, ["module"], {"step": 12})
save("nested-twice.pth", {"model": {"module": small}}, small, ["model", "module"], {})
save("nested-state-dict.pth", {"state_dict": small, "note": "hi"}, small, ["state_dict"], {"note": "hi"})

# 5. nn.Parameter values (torch._utils._rebuild_parameter)
params = {"p": torch.nn.Parameter(randn(2, 2)), "q": torch.nn.Parameter(randn(3), requires_grad=False)}
save("parameters.pth", params, params, [], {})

# 6. legacy (non-zip) format
torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)


# 7. zip variants built from dtypes.pth
def rezip(src, dst, compression, drop=None):
    with zipfile.ZipFile(os.path.join(OUT, src)) as zin, zipfile.ZipFile(os.path.join(OUT, dst), "w", compression) as zout:
        for info in zin.infolist():
            if drop is not None and info.filename.endswith(drop):
                continue
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
            zout.writestr(fixed, zin.read(info.filename), compress_type=compression)


rezip("dtypes.pth", "deflate.pth", zipfile.ZIP_DEFLATED)
expected["deflate.pth"] = expected["dtypes.pth"]
rezip("dtypes.pth", "missing-entry.pth", zipfile.ZIP_STORED, drop="/data/0")


# 8. malicious: __reduce__ names os.system. Saved, never loaded by torch here.
class Evil:
    def __reduce__(self):
        return (os.system, ("echo flux-fixture-should-never-run > /tmp/flux-pwned",))


torch.save({"w": torch.ones(2), "payload": Evil()}, os.path.join(OUT, "malicious.pth"))


# 9. safetensors written by an independent encoder following the Rust reference (Debian has no
#    python3-safetensors): tensors sorted by dtype (Rust enum order, descending) then name, compact JSON,
#    __metadata__ first, header space-padded to a multiple of 8.
RUST_ORDER = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"]
ST = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.float16: "F16",
      torch.bfloat16: "BF16", torch.int32: "I32", torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def to_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes() if t.numel() else b""


st_tensors = {k: v for k, v in dtypes.items() if k != "i64_big"}
st_tensors["weight.0"] = randn(2, 3)
st_tensors["10"] = torch.tensor([1.0])
st_tensors["2"] = torch.tensor([2.0])
items = sorted(st_tensors.items(), key=lambda kv: (-RUST_ORDER.index(ST[kv[1].dtype]), kv[0].encode()))
header, blobs, off = {"__metadata__": {"format": "pt", "source": "make-pth-fixtures.py"}}, [], 0
for k, v in items:
    b = to_bytes(v)
    header[k] = {"dtype": ST[v.dtype], "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
hj = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
hj += b" " * ((8 - len(hj) % 8) % 8)
with open(os.path.join(OUT, "golden.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
expected["golden.safetensors"] = {
    "metadata": header["__metadata__"],
    "order": [k for k, _ in items],
    "tensors": {k: describe(v) for k, v in st_tensors.items()},
}

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")

total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, torch {torch.__version__}")
