#!/usr/bin/env python3
"""Golden fixtures for @flux/vit, from an independent small PyTorch implementation of FluxViT.

Written from the architecture description (shared/DESIGN.md) with the official state_dict names, using
PyTorch's own layers wherever the official model does (Conv3d patch projection, depthwise Conv3d for
gpe_proj / attn.lpe, F.interpolate linear + bicubic for the pos-embed resize), so the TS model is checked
against PyTorch semantics, not against a port of itself.

Usage (Debian python3-torch; no other dependency):
  /usr/bin/python3 scripts/make-golden.py                 # writes test/fixtures/golden-{weights,cases}.pth
  /usr/bin/python3 scripts/make-golden.py --check F.safetensors
      # loads a file saved by FluxViT.save() with load_state_dict(strict=True) and compares its outputs
      # with the same weights loaded from the .pth; prints the result as JSON.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'test', 'fixtures')

# Tiny config (mirrors test/golden.*.test.ts).
CFG = dict(patch=4, dim=32, depth=2, heads=4, mlp_ratio=4, max_frames=8, max_grid=4, num_classes=5,
           head_counts=[64, 32, 16], clip_dim=24, clip_heads=4, eps=1e-6)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class Depthwise(nn.Module):
    """Per-channel 1x1x1 depthwise Conv3d, as the release's DepthwiseConv3D (`depthwise_conv`)."""

    def __init__(self, c):
        super().__init__()
        self.depthwise_conv = nn.Conv3d(c, c, kernel_size=1, groups=c)

    def forward(self, x):  # x [B, C, T, H, W]
        return self.depthwise_conv(x)


class PatchEmbed(nn.Module):
    def __init__(self, p, c, eps):
        super().__init__()
        self.p = p
        self.proj = nn.Conv3d(3, c, kernel_size=(1, p, p), stride=(1, p, p))
        self.norm = RMSNorm(c, eps)
        self.norm_before = RMSNorm(p * p * 3, eps)

    def forward(self, video):  # [B, F, H, W, 3]
        b, f, h, w, _ = video.shape
        p = self.p
        # raw patches, (h w c) order inside a patch
        x = video.reshape(b, f, h // p, p, w // p, p, 3).permute(0, 1, 2, 4, 3, 5, 6)
        x = x.reshape(b, f, h // p, w // p, p * p * 3)
        x = self.norm_before(x)
        x = x.reshape(b, f, h // p, w // p, p, p, 3).permute(0, 6, 1, 2, 4, 3, 5).reshape(b, 3, f, h, w)
        x = self.proj(x)  # [B, C, F, Hp, Wp]
        x = x.flatten(3).permute(0, 2, 3, 1)  # [B, F, L, C]
        return self.norm(x)


class Attention(nn.Module):
    def __init__(self, c, heads, eps):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(c, 3 * c, bias=False)
        self.proj = nn.Linear(c, c)
        self.lpe = Depthwise(c)
        self.q_norm = RMSNorm(c, eps)
        self.k_norm = RMSNorm(c, eps)

    def attend(self, q, k, v):
        """Per-head attention [B, H, N, d] -> (context [B, H, N, d], probabilities [B, H, N, N])."""
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        return a @ v, a

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k = self.q_norm(q), self.k_norm(k)
        d = c // self.heads
        split = lambda t: t.reshape(b, n, self.heads, d).transpose(1, 2)
        ctx, a = self.attend(split(q), split(k), split(v))
        ctx = ctx.transpose(1, 2).reshape(b, n, c)
        lpe = self.lpe(v.transpose(1, 2).reshape(b, c, 1, n, 1)).reshape(b, c, n).transpose(1, 2)
        return self.proj(ctx + lpe), a


class LayerScale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gamma = nn.Parameter(1e-5 * torch.ones(c))

    def forward(self, x):
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        self.fc1 = nn.Linear(c, hidden)
        self.fc2 = nn.Linear(hidden, c)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, c, heads, mlp_ratio, eps):
        super().__init__()
        self.norm1 = RMSNorm(c, eps)
        self.attn = Attention(c, heads, eps)
        self.ls1 = LayerScale(c)
        self.norm2 = RMSNorm(c, eps)
        self.mlp = Mlp(c, int(c * mlp_ratio))
        self.ls2 = LayerScale(c)

    def forward(self, x):
        y, a = self.attn(self.norm1(x))
        x = x + self.ls1(y)
        return x + self.ls2(self.mlp(self.norm2(x))), a


class CrossAttn(nn.Module):
    def __init__(self, c, out, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(c, c, bias=False)
        self.k = nn.Linear(c, c, bias=False)
        self.v = nn.Linear(c, c, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(c))
        self.k_bias = nn.Parameter(torch.zeros(c))
        self.v_bias = nn.Parameter(torch.zeros(c))
        self.proj = nn.Linear(c, out)


class AttnPool(nn.Module):
    def __init__(self, c, out, heads):
        super().__init__()
        self.norm1_q = nn.LayerNorm(c, eps=1e-5)
        self.norm1_k = nn.LayerNorm(c, eps=1e-5)
        self.norm1_v = nn.LayerNorm(c, eps=1e-5)
        self.cross_attn = CrossAttn(c, out, heads)

    def forward(self, x):
        ca = self.cross_attn
        b, n, c = x.shape
        h = ca.heads
        d = c // h
        q = F.linear(self.norm1_q(x.mean(1, keepdim=True)), ca.q.weight, ca.q_bias).reshape(b, 1, h, d).transpose(1, 2)
        k = F.linear(self.norm1_k(x), ca.k.weight, ca.k_bias).reshape(b, n, h, d).transpose(1, 2)
        v = F.linear(self.norm1_v(x), ca.v.weight, ca.v_bias).reshape(b, n, h, d).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) * d ** -0.5, dim=-1)
        return ca.proj((a @ v).transpose(1, 2).reshape(b, c)), None


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.head = nn.Linear(c, c)
        self.norm = nn.LayerNorm(c, eps=1e-5)


def sincos_1d(dim, pos):
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    out = pos.double()[:, None] * omega[None]
    return torch.cat([out.sin(), out.cos()], 1)


def sincos_3d(dim, grid, frames):
    dt = dim // 4
    ds = dim - dt
    t = sincos_1d(dt, torch.arange(frames)).repeat_interleave(grid * grid, 0)
    hh, ww = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing='ij')
    sp = torch.cat([sincos_1d(ds // 2, ww.flatten()), sincos_1d(ds // 2, hh.flatten())], 1).repeat(frames, 1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), torch.cat([t, sp], 1)], 0).float()


class FluxViTRef(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg['dim']
        self.cfg = cfg
        self.gpe_proj = Depthwise(c)
        self.patch_embed = PatchEmbed(cfg['patch'], c, cfg['eps'])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c))
        self.pos_embed = nn.Parameter(sincos_3d(c, cfg['max_grid'], cfg['max_frames'])[None])
        self.blocks = nn.ModuleList([Block(c, cfg['heads'], cfg['mlp_ratio'], cfg['eps']) for _ in range(cfg['depth'])])
        nh = len(cfg['head_counts'])
        self.clip_projector = nn.ModuleList([AttnPool(c, cfg['clip_dim'], cfg['clip_heads']) for _ in range(nh)])
        self.head = nn.ModuleList([nn.Linear(cfg['clip_dim'], cfg['num_classes']) for _ in range(nh)])
        self.fc_norm = nn.LayerNorm(cfg['clip_dim'])
        self.final_clip_decoder_for_projs = nn.ModuleList([Decoder(cfg['clip_dim']) for _ in range(nh - 1)])

    def pos_for(self, f, hp, wp):
        """gpe_proj on the stored grid, then linear over T and bicubic over (H, W) — the release's order."""
        cfg = self.cfg
        c, t0, g = cfg['dim'], cfg['max_frames'], cfg['max_grid']
        pe = self.pos_embed[:, 1:].reshape(1, t0, g, g, c).permute(0, 4, 1, 2, 3)
        pe = self.gpe_proj(pe)  # [1, C, T0, G, G]
        if f != t0:
            x = pe.permute(0, 3, 4, 1, 2).reshape(g * g, c, t0)
            x = F.interpolate(x, size=f, mode='linear', align_corners=False)
            pe = x.reshape(1, g, g, c, f).permute(0, 3, 4, 1, 2)
        if hp != g or wp != g:
            x = pe.permute(0, 2, 1, 3, 4).reshape(f, c, g, g)
            x = F.interpolate(x, size=(hp, wp), mode='bicubic', align_corners=False)
            pe = x.reshape(1, f, c, hp, wp).permute(0, 2, 1, 3, 4)
        return pe.permute(0, 2, 3, 4, 1).reshape(1, f * hp * wp, c)

    def forward(self, video, idx, head):
        b, f, h, w, _ = video.shape
        p = self.cfg['patch']
        x = self.patch_embed(video)  # [B, F, L, C]
        c = x.shape[-1]
        x = x.reshape(b, -1, c)
        pos = self.pos_for(f, h // p, w // p).expand(b, -1, -1)
        x = x + pos
        x = torch.gather(x, 1, idx[:, :, None].expand(-1, -1, c))
        cls = self.cls_token + self.pos_embed[:, :1]
        x = torch.cat([cls.expand(b, -1, -1), x], 1)
        layers = []
        for blk in self.blocks:
            x, a = blk(x)
            layers.append(x)
        cls_attn = a[:, :, 0, 1:].mean(1)
        pooled, _ = self.clip_projector[head](x)
        logits = self.head[head](self.fc_norm(pooled))
        return logits, pooled, layers, cls_attn


def group_dynamic(tokens, k):
    """Group-dynamic L2 selection (DESIGN.md, @flux/selector): groups 4 if F%4==0, 1 if F==2, else 2;
    token (t,i) scores ||x[t,i] - x[t-1,i]||; a group's first frame reuses its second frame's score; a
    one-frame group (F=4: the release raises IndexError here) uses the distance to the previous frame (to
    the next for frame 0). Top floor(K/G) (+1 for the first K mod G groups) per group, ties to the lower
    index, indices sorted ascending."""
    b, f, l, c = tokens.shape
    g = 4 if f % 4 == 0 else (1 if f == 2 else 2)
    fg = f // g
    dist = (tokens[:, 1:] - tokens[:, :-1]).norm(dim=-1)  # [B, F-1, L]; dist[t-1] belongs to frame t
    out = []
    for bi in range(b):
        rows = []
        for gi in range(g):
            first, end = gi * fg, (gi + 1) * fg
            scores = []
            for t in range(first, end):
                if t > first:
                    src = t - 1
                elif end - first > 1:
                    src = t
                else:
                    src = t - 1 if t > 0 else t
                scores.append(dist[bi, src])
            s = torch.cat(scores).double()
            quota = k // g + (1 if gi < k % g else 0)
            order = sorted(range(s.numel()), key=lambda i: (-s[i].item(), i))[:quota]
            rows += [first * l + i for i in order]
        out.append(sorted(rows))
    return torch.tensor(out, dtype=torch.int64)


def nearest_head(counts, k):
    return min(range(len(counts)), key=lambda j: (abs(counts[j] - k), j))


def randomise(model, gen):
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if name == 'pos_embed':
                prm.add_(0.1 * torch.randn(prm.shape, generator=gen))
            elif name.endswith('gamma'):
                prm.copy_(0.5 + 0.5 * torch.rand(prm.shape, generator=gen))
            elif prm.dim() == 1 and ('norm' in name or 'depthwise' in name):
                prm.copy_(1 + 0.2 * torch.randn(prm.shape, generator=gen)) if name.endswith('weight') else prm.copy_(0.1 * torch.randn(prm.shape, generator=gen))
            elif 'depthwise_conv.weight' in name:
                prm.copy_(1 + 0.2 * torch.randn(prm.shape, generator=gen))
            else:
                fan_in = prm.shape[1] if prm.dim() > 1 else prm.shape[0]
                if prm.dim() == 5:
                    fan_in = prm[0].numel()
                prm.copy_(torch.randn(prm.shape, generator=gen) / math.sqrt(fan_in) if prm.dim() > 1 else 0.1 * torch.randn(prm.shape, generator=gen))


# (name, B, F, R, K or None = all, mode): 'all' | 'indices' (precomputed random) | 'selector'
CASES = [
    ('full', 2, 8, 16, None, 'all'),
    ('b1_f4_r12', 1, 4, 12, None, 'all'),
    ('f6_r20_k40', 2, 6, 20, 40, 'indices'),
    ('f2_r8_k7', 1, 2, 8, 7, 'indices'),
    ('f4_r16_k24_selector', 2, 4, 16, 24, 'selector'),
    ('f6_r12_k21_selector', 1, 6, 12, 21, 'selector'),
]


def make():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    model = FluxViTRef(CFG).eval()
    randomise(model, gen)
    os.makedirs(FIXTURES, exist_ok=True)
    torch.save({'model': model.state_dict()}, os.path.join(FIXTURES, 'golden-weights.pth'))
    cases = {}
    p = CFG['patch']
    with torch.no_grad():
        for name, b, f, r, k, mode in CASES:
            video = torch.randn(b, f, r, r, 3, generator=gen)
            n = f * (r // p) ** 2
            if mode == 'all':
                idx = torch.arange(n)[None].repeat(b, 1)
            elif mode == 'indices':
                idx = torch.stack([torch.randperm(n, generator=gen)[:k].sort().values for _ in range(b)])
            else:
                idx = group_dynamic(model.patch_embed(video), k)
            head = nearest_head(CFG['head_counts'], idx.shape[1])
            logits, pooled, layers, cls_attn = model(video, idx, head)
            cases[name] = {
                'video': video, 'indices': idx, 'k': torch.tensor([k or 0]), 'head': torch.tensor([head]),
                'logits': logits, 'pooled': pooled, 'last': layers[-1], 'cls_attn': cls_attn,
            }
    torch.save(cases, os.path.join(FIXTURES, 'golden-cases.pth'))
    size = sum(os.path.getsize(os.path.join(FIXTURES, f)) for f in ('golden-weights.pth', 'golden-cases.pth'))
    print(f'wrote golden fixtures ({size} bytes, {len(CASES)} cases)')


def read_safetensors(path):
    with open(path, 'rb') as fh:
        raw = fh.read()
    (hlen,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', info
        s, e = info['data_offsets']
        out[name] = torch.frombuffer(bytearray(raw[base + s:base + e]), dtype=torch.float32).reshape(info['shape'])
    return out


def check(path):
    """Round trip: a FluxViT.save() file loads strictly into the reference and gives the same outputs."""
    ref = FluxViTRef(CFG).eval()
    ref.load_state_dict(torch.load(os.path.join(FIXTURES, 'golden-weights.pth'))['model'], strict=True)
    saved = FluxViTRef(CFG).eval()
    result = {'file': os.path.basename(path)}
    try:
        saved.load_state_dict(read_safetensors(path), strict=True)
        result['load_state_dict_strict'] = 'ok'
    except Exception as e:  # noqa: BLE001
        result['load_state_dict_strict'] = f'FAILED: {e}'
        print(json.dumps(result))
        return 1
    cases = torch.load(os.path.join(FIXTURES, 'golden-cases.pth'))
    worst = 0.0
    with torch.no_grad():
        for name, case in cases.items():
            a = ref(case['video'], case['indices'], int(case['head'][0]))[0]
            b = saved(case['video'], case['indices'], int(case['head'][0]))[0]
            worst = max(worst, (a - b).abs().max().item())
    result['max_abs_logit_diff'] = worst
    result['torch'] = torch.__version__
    print(json.dumps(result))
    return 0 if worst == 0.0 else 1


if __name__ == '__main__':
    if len(sys.argv) > 2 and sys.argv[1] == '--check':
        sys.exit(check(sys.argv[2]))
    make()
