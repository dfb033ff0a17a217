"""PyTorch CPU side of `pnpm bench` for FluxViT-S: the golden script's independent reference model
(scripts/make-golden.py, FluxViTRef) at the S size, one training step (forward, cross-entropy on the
2048-token head, backward) at 2048 tokens (8 frames x 224^2, patch 14). Prints one JSON line per batch
size: {"batch": B, "seconds": s_per_step, "torch": version, "threads": n, "attention": "reference" | "sdpa"}.

With --sdpa the reference's attention (explicit q·kᵀ / √d, softmax, ·v) is swapped for PyTorch's fused
F.scaled_dot_product_attention, the fastest attention PyTorch offers on CPU, same weights and outputs.

Usage: python vit_torch.py [--sdpa] REPS BATCH [BATCH ...]
"""
import importlib.util
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('make_golden', os.path.join(HERE, '..', 'scripts', 'make-golden.py'))
golden = importlib.util.module_from_spec(spec)
spec.loader.exec_module(golden)

# fluxvit_small_patch14 (src/config.ts): patch 14, dim 384, depth 12, 6 heads, MLP x4, pos-embed grid 24 x 18 x 18,
# 400 classes, heads for 1024/2048/3072 tokens, attention pool 768 wide with 16 heads.
S = dict(patch=14, dim=384, depth=12, heads=6, mlp_ratio=4, max_frames=24, max_grid=18, num_classes=400,
         head_counts=[1024, 2048, 3072], clip_dim=768, clip_heads=16, eps=1e-6)

argv = [a for a in sys.argv[1:] if a != '--sdpa']
sdpa = '--sdpa' in sys.argv
reps = int(argv[0]) if argv else 2
batches = [int(b) for b in argv[1:]] or [1, 4]

if sdpa:
    def sdpa_attend(self, q, k, v):
        # the model reads the CLS row of the last block's attention: recompute that one query row, detached
        cls_row = torch.softmax(q[:, :, :1].detach() @ k.detach().transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        return F.scaled_dot_product_attention(q, k, v), cls_row

    golden.Attention.attend = sdpa_attend
torch.manual_seed(0)
model = golden.FluxViTRef(S).train()
frames, size = 8, 224
n = frames * (size // S['patch']) ** 2
head = golden.nearest_head(S['head_counts'], n)
for b in batches:
    video = torch.randn(b, frames, size, size, 3)
    idx = torch.arange(n)[None].repeat(b, 1)
    labels = torch.zeros(b, dtype=torch.int64)

    def step():
        model.zero_grad(set_to_none=True)
        logits = model(video, idx, head)[0]  # (the reference returns the last block's attention; SDPA has none)
        F.cross_entropy(logits, labels).backward()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        step()
    s = (time.perf_counter() - t0) / reps
    print(json.dumps({'batch': b, 'seconds': s, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'attention': 'sdpa' if sdpa else 'reference'}), flush=True)
