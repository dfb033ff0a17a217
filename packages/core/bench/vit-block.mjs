// A FluxViT transformer block written with @flux/core's ops, for the benchmarks and the demo.
// x = x + ls1 ⊙ proj(attn(norm1(x)) + lpe(v));  x = x + ls2 ⊙ fc2(gelu(fc1(norm2(x))))
import * as tf from '@tensorflow/tfjs-core';
import { biasGelu, channelAffine, linear, residual, rmsNorm, scaledDotAttention } from '@flux/core';

/** Parameters of one block (tfjs [in, out] layout), as variables. */
export function makeBlock(dim, mlp, seed = 0) {
  const v = (shape, std, name) => tf.variable(std === 0 ? tf.ones(shape) : tf.randomNormal(shape, 0, std, 'float32', seed++), true, name);
  const s = 1 / Math.sqrt(dim);
  const id = `b${seed}`;
  return {
    norm1: v([dim], 0, `${id}.norm1`),
    qkv: v([dim, 3 * dim], s, `${id}.qkv`),
    qNorm: v([dim], 0, `${id}.q_norm`),
    kNorm: v([dim], 0, `${id}.k_norm`),
    lpeW: v([dim], 0.1, `${id}.lpe.w`),
    lpeB: v([dim], 0.1, `${id}.lpe.b`),
    proj: v([dim, dim], s, `${id}.proj`),
    projB: v([dim], 0.02, `${id}.proj.b`),
    ls1: v([dim], 0.1, `${id}.ls1`),
    norm2: v([dim], 0, `${id}.norm2`),
    fc1: v([dim, mlp], s, `${id}.fc1`),
    fc1B: v([mlp], 0.02, `${id}.fc1.b`),
    fc2: v([mlp, dim], 1 / Math.sqrt(mlp), `${id}.fc2`),
    fc2B: v([dim], 0.02, `${id}.fc2.b`),
    ls2: v([dim], 0.1, `${id}.ls2`),
  };
}

/** Forward of one block on x [B, N, C]. */
export function block(p, x, heads) {
  const [b, n, c] = x.shape;
  const hd = c / heads;
  const qkv = linear(rmsNorm(x, p.norm1), p.qkv); // [B,N,3C]
  const [q0, k0, v0] = tf.split(qkv, 3, -1);
  const q = rmsNorm(q0, p.qNorm);
  const k = rmsNorm(k0, p.kNorm);
  const toHeads = (t) => tf.transpose(tf.reshape(t, [b, n, heads, hd]), [0, 2, 1, 3]); // [B,H,N,hd]
  const ctx = scaledDotAttention(toHeads(q), toHeads(k), toHeads(v0), 1 / Math.sqrt(hd)); // [B,H,N,hd]
  const o = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [b, n, c]);
  const y = linear(tf.add(o, channelAffine(v0, p.lpeW, p.lpeB)), p.proj, p.projB);
  const x1 = residual(x, y, p.ls1);
  const h = linear(biasGelu(linear(rmsNorm(x1, p.norm2), p.fc1), p.fc1B), p.fc2, p.fc2B);
  return residual(x1, h, p.ls2);
}

/** Forward FLOPs of one block at [B, N, C] with MLP hidden `mlp` (matmuls only; 2 per multiply-add). */
export function blockFlops(b, n, c, mlp) {
  const linears = 2 * b * n * (3 * c * c + c * c + 2 * c * mlp);
  const attention = 2 * 2 * b * n * n * c;
  return linears + attention;
}

/** Plain 1024³ matmul GFLOP/s on the current backend (the reference ceiling for the block figures). */
export function matmulGflops(size = 1024, reps = 5) {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  // Read one element to wait for the result (wasm kernels are synchronous anyway). Never return a typed array
  // from tf.tidy: it walks the returned value looking for tensors, element by element.
  const once = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  once();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) once();
  const s = (performance.now() - t0) / 1000 / reps;
  a.dispose();
  b.dispose();
  return (2 * size ** 3) / s / 1e9;
}

/** Kernel-time split of one call of `f` (ms): matmul kernels vs everything else. */
export function profileSplit(f) {
  return tf.profile(() => tf.tidy(f)).then((info) => {
    let matmul = 0;
    let other = 0;
    const byKernel = new Map();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      if (/MatMul/.test(k.name)) matmul += ms;
      else other += ms;
      byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + ms);
    }
    const top = [...byKernel.entries()].sort((x, y) => y[1] - x[1]).slice(0, 6);
    return { matmul, other, top };
  });
}
