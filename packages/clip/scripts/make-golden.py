#!/usr/bin/env python3
"""Golden fixtures for @flux/clip's text tower, from an independent plain-PyTorch implementation of OpenCLIP's
TextTransformer (open_clip/transformer.py: token_embedding + positional_embedding, pre-LN ResidualAttentionBlocks
with nn.MultiheadAttention under a causal float mask, ln_final, pooling at the end-of-text position, then
`pooled @ text_projection`). Written from the architecture, not ported from the TS code; open_clip itself is not
needed (or installed).

Writes, into test/fixtures/:
  text-weights.safetensors  a tiny random model in OpenCLIP's CLIP layout: the text tower under its official
                            names plus dummy `visual.*` tensors and `logit_scale` (which a text loader must ignore);
                            metadata {"heads": "4", "activation": "quick_gelu"}
  text-cases.safetensors    per case `{name}.ids` int32 [B, T], `{name}.eot` int32 [B], `{name}.out` float32 [B, D]

Usage (PyTorch only; no numpy, no safetensors package: the file format is written here):
  /work/main/.flux-cache/torch-venv/bin/python scripts/make-golden.py
"""
import json
import os
import struct
from collections import OrderedDict

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'test', 'fixtures')

# Tiny config (mirrors test/golden.ts).
CFG = dict(vocab=64, context=12, width=32, layers=2, heads=4, embed=24, mlp_ratio=4)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp_width, act):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ('c_fc', nn.Linear(width, mlp_width)),
            ('gelu', act()),
            ('c_proj', nn.Linear(mlp_width, width)),
        ]))

    def forward(self, x, attn_mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mlp_width, act):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, mlp_width, act) for _ in range(layers)])

    def forward(self, x, attn_mask):
        for r in self.resblocks:
            x = r(x, attn_mask)
        return x


class TextTransformer(nn.Module):
    def __init__(self, vocab, context, width, layers, heads, embed, mlp_ratio, act=QuickGELU):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.empty(context, width))
        self.transformer = Transformer(width, layers, heads, width * mlp_ratio, act)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed))
        # OpenCLIP's build_causal_mask: -inf strictly above the diagonal (a non-persistent buffer).
        self.register_buffer('attn_mask', torch.empty(context, context).fill_(float('-inf')).triu_(1), persistent=False)
        self.init_parameters(width, layers)

    def init_parameters(self, width, layers):
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (width ** -0.5) * ((2 * layers) ** -0.5)
        attn_std = width ** -0.5
        fc_std = (2 * width) ** -0.5
        for b in self.transformer.resblocks:
            nn.init.normal_(b.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(b.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(b.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(b.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    def forward(self, text, eot):
        n = text.shape[1]
        x = self.token_embedding(text) + self.positional_embedding[:n]
        x = self.transformer(x, self.attn_mask[:n, :n])
        x = self.ln_final(x)
        pooled = x[torch.arange(x.shape[0]), eot]
        return pooled @ self.text_projection


def write_safetensors(path, tensors, metadata=None):
    """The safetensors format: u64-le header length, a JSON header (padded with spaces to 8 bytes), raw
    little-endian row-major data."""
    header = {}
    if metadata:
        header['__metadata__'] = metadata
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.float32:
            dtype, fmt = 'F32', 'f'
        elif t.dtype == torch.int32:
            dtype, fmt = 'I32', 'i'
        else:
            raise TypeError(f'{name}: unsupported dtype {t.dtype}')
        values = t.reshape(-1).tolist()
        blob = struct.pack(f'<{len(values)}{fmt}', *values)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(',', ':')).encode('utf-8')
    head += b' ' * ((8 - len(head) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    c = CFG
    model = TextTransformer(c['vocab'], c['context'], c['width'], c['layers'], c['heads'], c['embed'], c['mlp_ratio'])
    # Move every parameter off its init (unit LayerNorms, zero biases, tiny embeddings) so each one matters.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('bias') or name.endswith('in_proj_bias'):
                p.add_(torch.randn_like(p) * 0.1)
            elif 'ln_' in name:
                p.add_(torch.randn_like(p) * 0.2)
            elif name in ('token_embedding.weight', 'positional_embedding'):
                p.add_(torch.randn_like(p) * 0.5)
    model.eval()

    sd = OrderedDict((k, v.float()) for k, v in model.state_dict().items())
    assert 'attn_mask' not in sd
    full = OrderedDict()
    full['logit_scale'] = torch.tensor(4.6052)  # ln(100): a CLIP scalar the text loader ignores
    full['visual.class_embedding'] = torch.randn(8)
    full['visual.conv1.weight'] = torch.randn(8, 3, 2, 2)
    full['visual.transformer.resblocks.0.ln_1.weight'] = torch.ones(8)
    full['visual.proj'] = torch.randn(8, c['embed'])
    full.update(sd)
    os.makedirs(FIXTURES, exist_ok=True)
    write_safetensors(os.path.join(FIXTURES, 'text-weights.safetensors'), full, {'heads': str(c['heads']), 'activation': 'quick_gelu'})

    g = torch.Generator().manual_seed(1)

    def ids_with_eot(b, t, eots, pad=True):
        # Token ids 4..vocab-1 (the compact map's corpus ids), sot (1) first, eot (2) at each row's position, pad
        # (0) after it; without pad, random tokens also after the eot (the causal mask must hide them).
        x = torch.randint(4, c['vocab'], (b, t), generator=g, dtype=torch.int64)
        x[:, 0] = 1
        for i, e in enumerate(eots):
            x[i, e] = 2
            if pad:
                x[i, e + 1:] = 0
        return x, torch.tensor(eots, dtype=torch.int64)

    cases = OrderedDict()
    cases['full'] = ids_with_eot(3, c['context'], [11, 5, 1])
    cases['single'] = ids_with_eot(1, c['context'], [7])
    cases['short'] = ids_with_eot(2, 7, [6, 3])
    cases['nopad'] = ids_with_eot(4, c['context'], [0, 9, 2, 11], pad=False)
    cases['random'] = (torch.randint(0, c['vocab'], (5, c['context']), generator=g), torch.tensor([3, 11, 0, 6, 10]))

    out = OrderedDict()
    with torch.no_grad():
        for name, (ids, eot) in cases.items():
            y = model(ids, eot)
            out[f'{name}.ids'] = ids.to(torch.int32)
            out[f'{name}.eot'] = eot.to(torch.int32)
            out[f'{name}.out'] = y.float()
            print(f'{name}: ids {list(ids.shape)} eot {eot.tolist()} out {list(y.shape)} |out|max {y.abs().max().item():.4f}')
    write_safetensors(os.path.join(FIXTURES, 'text-cases.safetensors'), out)


if __name__ == '__main__':
    main()
