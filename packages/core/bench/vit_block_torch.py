"""PyTorch CPU reference for `pnpm bench`: the same ViT-S block, forward+backward GFLOP/s per shape.
Prints one line per shape: "[B,N,384] <GFLOP/s>"."""
import sys, time, math
import torch
import torch.nn as nn
import torch.nn.functional as F

class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__(); self.weight = nn.Parameter(torch.ones(d)); self.eps = eps
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

class Block(nn.Module):
    def __init__(self, dim=384, heads=6, mlp=1536):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = RMSNorm(dim), RMSNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_norm, self.k_norm = RMSNorm(dim), RMSNorm(dim)
        self.lpe_w, self.lpe_b = nn.Parameter(torch.randn(dim) * 0.1), nn.Parameter(torch.randn(dim) * 0.1)
        self.proj = nn.Linear(dim, dim)
        self.ls1, self.ls2 = nn.Parameter(torch.randn(dim) * 0.1), nn.Parameter(torch.randn(dim) * 0.1)
        self.fc1, self.fc2 = nn.Linear(dim, mlp), nn.Linear(mlp, dim)
    def forward(self, x):
        B, N, C = x.shape; H = self.heads; hd = C // H
        q, k, v = self.qkv(self.norm1(x)).chunk(3, -1)
        q, k = self.q_norm(q), self.k_norm(k)
        th = lambda t: t.reshape(B, N, H, hd).transpose(1, 2)
        a = torch.softmax(th(q) @ th(k).transpose(-1, -2) / math.sqrt(hd), -1)
        o = (a @ th(v)).transpose(1, 2).reshape(B, N, C)
        x = x + self.ls1 * self.proj(o + v * self.lpe_w + self.lpe_b)
        return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
torch.manual_seed(0)
blk = Block()
for b, n in [(8, 256), (1, 2048)]:
    x = torch.randn(b, n, 384)
    def step():
        blk.zero_grad(); blk(x).pow(2).mean().backward()
    step()
    t0 = time.perf_counter()
    for _ in range(reps): step()
    s = (time.perf_counter() - t0) / reps
    c, m = 384, 1536
    flops = 3 * (2 * b * n * (4 * c * c + 2 * c * m) + 4 * b * n * n * c)
    print(f"[{b},{n},384] {flops / s / 1e9:.2f}")
