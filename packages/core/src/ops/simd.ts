/**
 * A few hot loops as WebAssembly SIMD, run directly on the tfjs wasm backend's heap.
 *
 * The threaded SIMD build of tfjs-backend-wasm keeps every tensor in one shared `WebAssembly.Memory`
 * (`backend.wasm.wasmMemory`). A small module that imports that memory can work on the tensors in place,
 * four floats at a time — JS loops over typed arrays are scalar (a blocked JS transpose runs at ~2.7 ns per
 * float). The module is encoded by hand below (no toolchain dependency) and holds:
 *
 * - `transpose(src, dst, rows, cols)`: dst = srcᵀ for one row-major rows×cols float32 matrix, in 4×4
 *   register tiles (rows and cols multiples of 4);
 * - `softmaxGrad(dy, y, dx, rows, cols, scale)`: dx = scale · y ⊙ (dy − Σ dy⊙y) per row (cols a multiple of 4);
 * - `biasGelu(x, bias, y, deriv, rows, cols)`: y = gelu(x + bias) and (deriv ≠ 0) gelu′(x + bias), the same
 *   erf and exp fits as the JS kernels in float32 lanes (cols a multiple of 4);
 * - `rowOp(x, p, q, out, rows, cols, mode)`: the residual x + p ⊙ γ (mode 0), the channel affine x ⊙ s + b
 *   (mode 1) and the bias add x + b (mode 2), per-column vectors repeating over rows.
 * - `colGrad(a, b, c, dx, acc1, acc2, rows, cols, mode)`: the backward passes of the residual, the channel
 *   affine and GELU, and the sum over rows (a linear bias gradient), per-channel sums in float64 accumulators;
 * - `rmsNorm(x, w, y, rstd, rows, cols, eps)` and `rmsNormGrad(dy, x, rstd, w, dx, acc, rows, cols)`;
 * - `copyRows(src, dst, rows, floats, srcStride, dstStride)`: strided runs of 4k floats (permutes with a kept
 *   trailing block such as the head split, and row slices such as the q/k/v split).
 *
 * Arguments are byte offsets into the heap and element counts. Where the memory is not shared (the
 * single-threaded build exposes no memory object) or the shapes do not fit, callers use their JS loops.
 */
import type { WasmBackendLike } from './wasm-heap.js';

// ------------------------------------------------------------------------------------------ encoder

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const F64 = 0x7c;

// Core opcodes.
const BLOCK = 0x02;
const LOOP = 0x03;
const VOID = 0x40;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const SELECT = 0x1b;
const I32_GE_U = 0x4f;
const I32_LT_U = 0x49;
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;
const I32_SHL = 0x74;
const F32_ADD = 0x92;

const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const memarg = (align: number, offset = 0) => [...uleb(align), ...uleb(offset)];
// SIMD opcodes (WebAssembly SIMD proposal, final numbering).
const v128Load = (offset = 0) => simd(0x00, ...memarg(0, offset));
const v128Store = (offset = 0) => simd(0x0b, ...memarg(0, offset));
const f32x4Splat = () => simd(0x13);
const f32x4Extract = (lane: number) => simd(0x1f, lane);
const f32x4Add = () => simd(0xe4);
const f32x4Sub = () => simd(0xe5);
const f32x4Mul = () => simd(0xe6);
const f32x4Div = () => simd(0xe7);
const f32x4Min = () => simd(0xe8);
const f32x4Max = () => simd(0xe9);
const f32x4Lt = () => simd(0x43);
const f32x4Nearest = () => simd(0x6a);
const v128Bitselect = () => simd(0x52);
const i32x4TruncSatF32x4S = () => simd(0xf8);
const i32x4Add = () => simd(0xae);
const i32x4Shl = () => simd(0xab);
const f64x2Add = () => simd(0xf0);
const f64x2Mul = () => simd(0xf2);
const f64x2PromoteLow = () => simd(0x5f);
const f32x4Sqrt = () => simd(0xe3);
/** The upper two float lanes moved to the bottom (for promoting them to f64x2). */
const highToLow = () => [...v128Const0(), ...shuffle32([2, 3, 4, 4])];
const v128Const0 = () => simd(0x0c, ...new Array<number>(16).fill(0));
function f32Bytes(v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return Array.from(b);
}
function f64Bytes(v: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return Array.from(b);
}
/** v128.const with four equal float lanes. */
const vf = (v: number) => simd(0x0c, ...f32Bytes(v), ...f32Bytes(v), ...f32Bytes(v), ...f32Bytes(v));
/** v128.const with four equal int lanes. */
const vi = (v: number) => {
  const b = Array.from(new Uint8Array(new Int32Array([v]).buffer));
  return simd(0x0c, ...b, ...b, ...b, ...b);
};
/** Horner: c[0] + x·(c[1] + x·(c[2] + …)) with x in local `x` (v128). */
function horner(x: number, c: number[]): number[] {
  let code = vf(c[c.length - 1]!);
  for (let i = c.length - 2; i >= 0; i--) code = [...code, ...get(x), ...f32x4Mul(), ...vf(c[i]!), ...f32x4Add()];
  return code;
}

/** i8x16.shuffle picking float lanes (0–3 from the first operand, 4–7 from the second). */
const shuffle32 = (l: number[]) => simd(0x0d, ...l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]));

/** while (local a < local b) { body }  (unsigned compare). */
function whileLt(a: number, b: number, body: number[]): number[] {
  return [BLOCK, VOID, LOOP, VOID, ...get(a), ...get(b), I32_GE_U, BR_IF, 1, ...body, BR, 0, END, END];
}

/** `rb = 4·cols; for (r = 0; r < rows; r++) row` (locals by index): the outer loop of every row kernel. */
function rowLoop(cols: number, rb: number, r: number, rows: number, row: number[]): number[] {
  return [...get(cols), ...i32(2), I32_SHL, ...set(rb), ...i32(0), ...set(r), ...whileLt(r, rows, row)];
}

/** local x += local y (i32). */
const addTo = (x: number, y: number) => [...get(x), ...get(y), I32_ADD, ...set(x)];
/** local x += constant (i32). */
const addConst = (x: number, c: number) => [...get(x), ...i32(c), I32_ADD, ...set(x)];

// ------------------------------------------------------------------------------------------ functions

/** transpose(src, dst, rows, cols): params 0–3 (byte offsets, element counts). */
function transposeBody(): { locals: number[][]; code: number[] } {
  const [SRC, DST, ROWS, COLS] = [0, 1, 2, 3];
  const [J0, J1, I, J, S, D, RB, DB] = [4, 5, 6, 7, 8, 9, 10, 11];
  const [R0, R1, R2, R3, T0, T1, T2, T3] = [12, 13, 14, 15, 16, 17, 18, 19];
  const JT = 64; // columns per tile: the 4-row strips of a tile write JT destination rows, kept in L1
  const inner = [
    ...get(S), ...v128Load(), ...set(R0),
    ...get(S), ...get(RB), I32_ADD, ...v128Load(), ...set(R1),
    ...get(S), ...get(RB), ...i32(1), I32_SHL, I32_ADD, ...v128Load(), ...set(R2),
    ...get(S), ...get(RB), ...i32(3), I32_MUL, I32_ADD, ...v128Load(), ...set(R3),
    ...get(R0), ...get(R1), ...shuffle32([0, 4, 1, 5]), ...set(T0),
    ...get(R0), ...get(R1), ...shuffle32([2, 6, 3, 7]), ...set(T1),
    ...get(R2), ...get(R3), ...shuffle32([0, 4, 1, 5]), ...set(T2),
    ...get(R2), ...get(R3), ...shuffle32([2, 6, 3, 7]), ...set(T3),
    ...get(D), ...get(T0), ...get(T2), ...shuffle32([0, 1, 4, 5]), ...v128Store(),
    ...get(D), ...get(DB), I32_ADD, ...get(T0), ...get(T2), ...shuffle32([2, 3, 6, 7]), ...v128Store(),
    ...get(D), ...get(DB), ...i32(1), I32_SHL, I32_ADD, ...get(T1), ...get(T3), ...shuffle32([0, 1, 4, 5]), ...v128Store(),
    ...get(D), ...get(DB), ...i32(3), I32_MUL, I32_ADD, ...get(T1), ...get(T3), ...shuffle32([2, 3, 6, 7]), ...v128Store(),
    ...addConst(S, 16),
    ...get(D), ...get(DB), ...i32(2), I32_SHL, I32_ADD, ...set(D),
    ...addConst(J, 4),
  ];
  const strip = [
    // s = src + i·rowBytes + j0·4; d = dst + j0·dstRowBytes + i·4
    ...get(SRC), ...get(I), ...get(RB), I32_MUL, I32_ADD, ...get(J0), ...i32(2), I32_SHL, I32_ADD, ...set(S),
    ...get(DST), ...get(J0), ...get(DB), I32_MUL, I32_ADD, ...get(I), ...i32(2), I32_SHL, I32_ADD, ...set(D),
    ...get(J0), ...set(J),
    ...whileLt(J, J1, inner),
    ...addConst(I, 4),
  ];
  const tile = [
    // j1 = min(j0 + JT, cols)
    ...get(J0), ...i32(JT), I32_ADD, ...get(COLS), ...get(J0), ...i32(JT), I32_ADD, ...get(COLS), I32_LT_U, SELECT, ...set(J1),
    ...i32(0), ...set(I),
    ...whileLt(I, ROWS, strip),
    ...get(J1), ...set(J0),
  ];
  const code = [
    ...get(COLS), ...i32(2), I32_SHL, ...set(RB),
    ...get(ROWS), ...i32(2), I32_SHL, ...set(DB),
    ...i32(0), ...set(J0),
    ...whileLt(J0, COLS, tile),
  ];
  return { locals: [[8, I32], [8, V128]], code };
}

/** softmaxGrad(dy, y, dx, rows, cols, scale): params 0–4 i32, 5 f32. */
function softmaxGradBody(): { locals: number[][]; code: number[] } {
  const [DY, Y, DX, ROWS, COLS, SCALE] = [0, 1, 2, 3, 4, 5];
  const [R, K, RB] = [6, 7, 8];
  const [ACC, VS, VSC] = [9, 10, 11];
  const dot = [
    ...get(ACC), ...get(DY), ...get(K), I32_ADD, ...v128Load(), ...get(Y), ...get(K), I32_ADD, ...v128Load(), ...f32x4Mul(), ...f32x4Add(), ...set(ACC),
    ...addConst(K, 16),
  ];
  const write = [
    ...get(DX), ...get(K), I32_ADD,
    ...get(VSC), ...get(Y), ...get(K), I32_ADD, ...v128Load(), ...f32x4Mul(),
    ...get(DY), ...get(K), I32_ADD, ...v128Load(), ...get(VS), ...f32x4Sub(),
    ...f32x4Mul(), ...v128Store(),
    ...addConst(K, 16),
  ];
  const row = [
    // acc = 0
    ...[0x43, 0, 0, 0, 0], ...f32x4Splat(), ...set(ACC),
    ...i32(0), ...set(K),
    ...whileLt(K, RB, dot),
    // s = acc₀ + acc₁ + acc₂ + acc₃
    ...get(ACC), ...f32x4Extract(0), ...get(ACC), ...f32x4Extract(1), F32_ADD,
    ...get(ACC), ...f32x4Extract(2), ...get(ACC), ...f32x4Extract(3), F32_ADD, F32_ADD,
    ...f32x4Splat(), ...set(VS),
    ...i32(0), ...set(K),
    ...whileLt(K, RB, write),
    ...addTo(DY, RB), ...addTo(Y, RB), ...addTo(DX, RB),
    ...addConst(R, 1),
  ];
  const code = [
    ...get(COLS), ...i32(2), I32_SHL, ...set(RB),
    ...get(SCALE), ...f32x4Splat(), ...set(VSC),
    ...i32(0), ...set(R),
    ...whileLt(R, ROWS, row),
  ];
  return { locals: [[3, I32], [3, V128]], code };
}

/**
 * e^w for the v128 on the stack, left on the stack: w clamped to [−87, 88], w = k·ln2 + r (Cody–Waite,
 * |r| ≤ ln2/2), degree-7 Taylor polynomial for e^r, 2^k built in the exponent bits. Scratch locals `w`, `k`.
 */
function vexp(w: number, k: number): number[] {
  return [
    ...vf(88), ...f32x4Min(), ...vf(-87), ...f32x4Max(), ...set(w),
    ...get(w), ...vf(1 / Math.LN2), ...f32x4Mul(), ...f32x4Nearest(), ...set(k),
    ...get(w), ...get(k), ...vf(0.693359375), ...f32x4Mul(), ...f32x4Sub(), ...get(k), ...vf(-2.12194440e-4), ...f32x4Mul(), ...f32x4Sub(), ...set(w),
    ...horner(w, [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040]),
    ...get(k), ...i32x4TruncSatF32x4S(), ...vi(127), ...i32x4Add(), ...i32(23), ...i32x4Shl(),
    ...f32x4Mul(),
  ];
}

/**
 * biasGelu(x, b, y, d, rows, cols): y = gelu(x + b) and, when d ≠ 0, d = gelu′(x + b) (cols a multiple of 4).
 * erf as in kernels.ts: the rational fit on [−4, 4] above z = −2, 1 − erfc(|z|) from the erfc fit below.
 */
function biasGeluBody(): { locals: number[][]; code: number[] } {
  const [X, B, Y, D, ROWS, COLS] = [0, 1, 2, 3, 4, 5];
  const [R, K, RB] = [6, 7, 8];
  const [V, Z, Z2, ERF, A, T, W, KK, CDF, MASK] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18];
  const P = [-1.60960333262415e-2, -2.95459980854025e-3, -7.34990630326855e-4, -5.69250639462346e-5, -2.10102402082508e-6, 2.77068142495902e-8, -2.72614225801306e-10];
  const Q = [-1.42647390514189e-2, -7.37332916720468e-3, -1.68282697438203e-3, -2.13374055278905e-4, -1.45660718464996e-5];
  const ERFC = [1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
  const step = [
    // v = x + b; z = v/√2
    ...get(X), ...get(K), I32_ADD, ...v128Load(), ...get(B), ...get(K), I32_ADD, ...v128Load(), ...f32x4Add(), ...set(V),
    ...get(V), ...vf(Math.SQRT1_2), ...f32x4Mul(), ...set(Z),
    // ERF holds 1 + erf(z) (no cancellation in the tail). main: zc = clamp(z, −4, 4); 1 + zc·P(zc²)/Q(zc²)
    ...get(Z), ...vf(-4), ...f32x4Max(), ...vf(4), ...f32x4Min(), ...set(A),
    ...get(A), ...get(A), ...f32x4Mul(), ...set(Z2),
    ...get(A), ...horner(Z2, P), ...f32x4Mul(), ...horner(Z2, Q), ...f32x4Div(), ...vf(1), ...f32x4Add(), ...set(ERF),
    // tail (z < −2), only where a lane needs it: a = max(−z, 2); t = 1/(1 + a/2);
    // 1 + erf = erfc(a) = t·exp(−a² − 1.26551223 + t·poly(t))
    ...get(Z), ...vf(-2), ...f32x4Lt(), ...set(MASK),
    ...get(MASK), ...simd(0x53) /* v128.any_true */, 0x04 /* if */, VOID,
    ...vf(0), ...get(Z), ...f32x4Sub(), ...vf(2), ...f32x4Max(), ...set(A),
    ...vf(1), ...vf(1), ...get(A), ...vf(0.5), ...f32x4Mul(), ...f32x4Add(), ...f32x4Div(), ...set(T),
    ...get(T),
    ...get(T), ...horner(T, ERFC), ...f32x4Mul(), ...vf(1.26551223), ...f32x4Sub(), ...get(A), ...get(A), ...f32x4Mul(), ...f32x4Sub(),
    ...vexp(W, KK),
    ...f32x4Mul(),
    ...get(ERF), ...get(MASK), ...v128Bitselect(), ...set(ERF),
    END,
    // cdf = (1 + erf)/2; y = v·cdf
    ...get(ERF), ...vf(0.5), ...f32x4Mul(), ...set(CDF),
    ...get(Y), ...get(K), I32_ADD, ...get(V), ...get(CDF), ...f32x4Mul(), ...v128Store(),
    // d = cdf + v·φ(v)
    ...get(D), 0x45 /* i32.eqz */, 0x04 /* if */, VOID, 0x05 /* else */,
    ...get(D), ...get(K), I32_ADD,
    ...get(CDF), ...get(V), ...vf(1 / Math.sqrt(2 * Math.PI)), ...f32x4Mul(),
    ...get(V), ...get(V), ...f32x4Mul(), ...vf(-0.5), ...f32x4Mul(), ...vexp(W, KK),
    ...f32x4Mul(), ...f32x4Add(), ...v128Store(),
    END,
    ...addConst(K, 16),
  ];
  const row = [
    ...i32(0), ...set(K),
    ...whileLt(K, RB, step),
    ...addTo(X, RB), ...addTo(Y, RB),
    ...get(D), 0x45, 0x04, VOID, 0x05, ...addTo(D, RB), END,
    ...addConst(R, 1),
  ];
  const code = rowLoop(COLS, RB, R, ROWS, row);
  return { locals: [[3, I32], [10, V128]], code };
}

/** rowOp(x, p, q, out, rows, cols, mode): mode 0: out = x + p ⊙ q (q per column); mode 1: out = x ⊙ p + q; mode 2: out = x + q (p, q per column). */
function rowOpBody(): { locals: number[][]; code: number[] } {
  const [X, P, Q, OUT, ROWS, COLS, MODE] = [0, 1, 2, 3, 4, 5, 6];
  const [R, K, RB, OFF, KEND] = [7, 8, 9, 10, 11];
  const ld = (base: number, idx: number) => [...get(base), ...get(idx), I32_ADD, ...v128Load()];
  const step = [
    ...get(OUT), ...get(K), I32_ADD,
    ...get(MODE), 0x45 /* i32.eqz */, 0x04 /* if */, V128,
    ...ld(X, K), ...ld(P, K), ...ld(Q, OFF), ...f32x4Mul(), ...f32x4Add(),
    0x05 /* else */,
    ...get(MODE), ...i32(1), 0x46 /* i32.eq */, 0x04, V128,
    ...ld(X, K), ...ld(P, OFF), ...f32x4Mul(), ...ld(Q, OFF), ...f32x4Add(),
    0x05,
    ...ld(X, K), ...ld(Q, OFF), ...f32x4Add(),
    END, END,
    ...v128Store(),
    ...addConst(K, 16), ...addConst(OFF, 16),
  ];
  const row = [
    ...i32(0), ...set(OFF),
    ...get(R), ...get(RB), I32_MUL, ...set(K),
    // K runs over the flat byte offset of this row; OFF over the column offset
    ...get(K), ...get(RB), I32_ADD, ...set(KEND),
    ...whileLt(K, KEND, step),
    ...addConst(R, 1),
  ];
  const code = rowLoop(COLS, RB, R, ROWS, row);
  return { locals: [[5, I32]], code };
}


/**
 * acc (f64x2 pair at byte `accAt` + 2·OFF) += the f32x4 in local `lo` (promoted), or += lo·hi promoted (exact
 * products, as the JS loops' float64 arithmetic) when `hi` ≥ 0.
 */
function accF64(accBase: number, off: number, lo: number, hi: number): number[] {
  const at = (half: number) => [...get(accBase), ...get(off), ...i32(1), I32_SHL, I32_ADD, ...(half ? i32(16) : []), ...(half ? [I32_ADD] : [])];
  const prom = (loc: number, half: number) => [...get(loc), ...(half ? highToLow() : []), ...f64x2PromoteLow()];
  const term = (half: number) => (hi >= 0 ? [...prom(lo, half), ...prom(hi, half), ...f64x2Mul()] : prom(lo, half));
  const one = (half: number) => [...at(half), ...at(half), ...v128Load(), ...term(half), ...f64x2Add(), ...v128Store()];
  return [...one(0), ...one(1)];
}

/**
 * colGrad(a, b, c, dx, acc1, acc2, rows, cols, mode): per-channel gradient sums in float64 (acc1/acc2: cols
 * doubles each, accumulated into) and the elementwise gradient (cols a multiple of 4):
 *   mode 0 (residual):       dx = a ⊙ c,  acc1 += a·b            (a = dy, b = y, c = γ)
 *   mode 1 (channel affine): dx = a ⊙ c,  acc1 += a·b, acc2 += a (a = dy, b = x, c = scale; acc2 = 0: none)
 *   mode 2 (GELU backward):  dx = a ⊙ b,  acc1 += dx             (b = gelu′; acc1 = 0: none)
 *   mode 3 (sum of rows):                 acc1 += a
 */
function colGradBody(): { locals: number[][]; code: number[] } {
  const [A, B, C, DX, ACC1, ACC2, ROWS, COLS, MODE] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [R, K, RB, OFF, KEND] = [9, 10, 11, 12, 13];
  const [VA, VB, VG] = [14, 15, 16];
  const ld = (base: number, idx: number) => [...get(base), ...get(idx), I32_ADD, ...v128Load()];
  const loadAB = [...ld(A, K), ...set(VA), ...ld(B, K), ...set(VB)];
  const next = [...addConst(K, 16), ...addConst(OFF, 16)];
  const ifNonZero = (loc: number, body: number[]) => [...get(loc), 0x04, VOID, ...body, END];
  const mode01 = (withAcc2: boolean) => [
    ...loadAB,
    ...get(DX), ...get(K), I32_ADD, ...get(VA), ...ld(C, OFF), ...f32x4Mul(), ...v128Store(),
    ...accF64(ACC1, OFF, VA, VB),
    ...(withAcc2 ? accF64(ACC2, OFF, VA, -1) : []),
    ...next,
  ];
  const mode2 = (withAcc: boolean) => [
    ...loadAB,
    ...get(VA), ...get(VB), ...f32x4Mul(), ...set(VG),
    ...get(DX), ...get(K), I32_ADD, ...get(VG), ...v128Store(),
    ...(withAcc ? accF64(ACC1, OFF, VG, -1) : []),
    ...next,
  ];
  const mode3 = [...ld(A, K), ...set(VA), ...accF64(ACC1, OFF, VA, -1), ...next];
  const loop = (step: number[]) => whileLt(K, KEND, step);
  const isMode = (m: number) => [...get(MODE), ...i32(m), 0x46 /* i32.eq */];
  const row = [
    ...i32(0), ...set(OFF),
    ...get(R), ...get(RB), I32_MUL, ...set(K),
    ...get(K), ...get(RB), I32_ADD, ...set(KEND),
    ...get(MODE), ...i32(2), I32_LT_U, 0x04, VOID,
    ...get(ACC2), 0x04, VOID, ...loop(mode01(true)), 0x05, ...loop(mode01(false)), END,
    0x05,
    ...isMode(2), 0x04, VOID,
    ...get(ACC1), 0x04, VOID, ...loop(mode2(true)), 0x05, ...loop(mode2(false)), END,
    0x05,
    ...loop(mode3),
    END, END,
    ...addConst(R, 1),
  ];
  void ifNonZero;
  const code = rowLoop(COLS, RB, R, ROWS, row);
  return { locals: [[5, I32], [3, V128]], code };
}

/** Horizontal f32 sum of the f32x4 in local `v`, left on the stack as f32. */
const hsum = (v: number) => [
  ...get(v), ...f32x4Extract(0), ...get(v), ...f32x4Extract(1), F32_ADD,
  ...get(v), ...f32x4Extract(2), ...get(v), ...f32x4Extract(3), F32_ADD, F32_ADD,
];

/**
 * rmsNorm(x, w, y, rstd, rows, cols, eps): rstd[r] = 1/√(mean(x²) + eps) (the scalar part in f64, as the JS
 * loop), y = (x·rstd)·w (cols a multiple of 4).
 */
function rmsNormBody(): { locals: number[][]; code: number[] } {
  const [X, W, Y, RSTD, ROWS, COLS, EPS] = [0, 1, 2, 3, 4, 5, 6];
  const [R, K, RB] = [7, 8, 9];
  const [ACC, V, VRI] = [10, 11, 12];
  const sq = [...get(ACC), ...get(X), ...get(K), I32_ADD, ...v128Load(), ...set(V), ...get(V), ...get(V), ...f32x4Mul(), ...f32x4Add(), ...set(ACC), ...addConst(K, 16)];
  const write = [
    ...get(Y), ...get(K), I32_ADD,
    ...get(X), ...get(K), I32_ADD, ...v128Load(), ...get(VRI), ...f32x4Mul(), ...get(W), ...get(K), I32_ADD, ...v128Load(), ...f32x4Mul(),
    ...v128Store(),
    ...addConst(K, 16),
  ];
  const row = [
    ...vf(0), ...set(ACC),
    ...i32(0), ...set(K),
    ...whileLt(K, RB, sq),
    // ri = f32(1 / sqrt(f64(s) / cols + eps))
    ...get(RSTD),
    ...[0x44, ...f64Bytes(1)], ...hsum(ACC), 0xbb /* f64.promote_f32 */, ...get(COLS), 0xb8 /* f64.convert_i32_u */, 0xa3 /* f64.div */,
    ...get(EPS), 0xa0 /* f64.add */, 0x9f /* f64.sqrt */, 0xa3 /* f64.div */, 0xb6 /* f32.demote_f64 */,
    ...f32x4Splat(), ...set(VRI),
    ...get(VRI), ...f32x4Extract(0), 0x38, ...memarg(2) /* f32.store */,
    ...i32(0), ...set(K),
    ...whileLt(K, RB, write),
    ...addTo(X, RB), ...addTo(Y, RB), ...addConst(RSTD, 4),
    ...addConst(R, 1),
  ];
  const code = rowLoop(COLS, RB, R, ROWS, row);
  return { locals: [[3, I32], [3, V128]], code };
}

/**
 * rmsNormGrad(dy, x, rstd, w, dx, acc, rows, cols): x̂ = x·rstd, acc (cols doubles) += dy·x̂ in f64 (as the JS
 * loop), m = Σ dy·w·x̂ / cols, dx = rstd·(dy·w − x̂·m) (cols a multiple of 4).
 */
function rmsNormGradBody(): { locals: number[][]; code: number[] } {
  const [DY, X, RSTD, W, DX, ACCP, ROWS, COLS] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [R, K, RB] = [8, 9, 10];
  const [ACC, VD, VX, VRI, VM, VXH] = [11, 12, 13, 14, 15, 16];
  const ld = (base: number) => [...get(base), ...get(K), I32_ADD, ...v128Load()];
  const pass1 = [
    ...ld(DY), ...set(VD),
    ...ld(X), ...get(VRI), ...f32x4Mul(), ...set(VXH),
    ...get(ACC), ...get(VD), ...ld(W), ...f32x4Mul(), ...get(VXH), ...f32x4Mul(), ...f32x4Add(), ...set(ACC),
    // acc += dy·(x·ri) with x·ri exact in f64: promote x and ri separately
    ...accGradRms(ACCP, K, VD, X, VRI),
    ...addConst(K, 16),
  ];
  const pass2 = [
    ...get(DX), ...get(K), I32_ADD,
    ...ld(DY), ...ld(W), ...f32x4Mul(),
    ...ld(X), ...get(VRI), ...f32x4Mul(), ...get(VM), ...f32x4Mul(),
    ...f32x4Sub(), ...get(VRI), ...f32x4Mul(),
    ...v128Store(),
    ...addConst(K, 16),
  ];
  const row = [
    ...get(RSTD), 0x2a, ...memarg(2) /* f32.load */, ...f32x4Splat(), ...set(VRI),
    ...vf(0), ...set(ACC),
    ...i32(0), ...set(K),
    ...whileLt(K, RB, pass1),
    ...hsum(ACC), ...get(COLS), 0xb3 /* f32.convert_i32_u */, 0x95 /* f32.div */, ...f32x4Splat(), ...set(VM),
    ...i32(0), ...set(K),
    ...whileLt(K, RB, pass2),
    ...addTo(DY, RB), ...addTo(X, RB), ...addTo(DX, RB), ...addConst(RSTD, 4),
    ...addConst(R, 1),
  ];
  const code = rowLoop(COLS, RB, R, ROWS, row);
  return { locals: [[3, I32], [6, V128]], code };
}

/** acc[c..c+3] (f64, at accBase + 2·k) += f64(dy)·(f64(x)·f64(ri)); x read from `xBase` + k. */
function accGradRms(accBase: number, k: number, vd: number, xBase: number, vri: number): number[] {
  const at = (half: number) => [...get(accBase), ...get(k), ...i32(1), I32_SHL, I32_ADD, ...(half ? [...i32(16), I32_ADD] : [])];
  const prom = (code: number[], half: number) => [...code, ...(half ? highToLow() : []), ...f64x2PromoteLow()];
  const xv = [...get(xBase), ...get(k), I32_ADD, ...v128Load()];
  const one = (half: number) => [
    ...at(half), ...at(half), ...v128Load(),
    ...prom(get(vd), half), ...prom(xv, half), ...prom(get(vri), half), ...f64x2Mul(), ...f64x2Mul(),
    ...f64x2Add(), ...v128Store(),
  ];
  return [...one(0), ...one(1)];
}

/** copyRows(src, dst, rows, floats, srcStride, dstStride): `rows` runs of `floats` (a multiple of 4), strides in bytes. */
function copyRowsBody(): { locals: number[][]; code: number[] } {
  const [SRC, DST, ROWS, FLOATS, SS, DS] = [0, 1, 2, 3, 4, 5];
  const [R, K, RB] = [6, 7, 8];
  const step = [...get(DST), ...get(K), I32_ADD, ...get(SRC), ...get(K), I32_ADD, ...v128Load(), ...v128Store(), ...addConst(K, 16)];
  const row = [
    ...i32(0), ...set(K),
    ...whileLt(K, RB, step),
    ...addTo(SRC, SS), ...addTo(DST, DS),
    ...addConst(R, 1),
  ];
  const code = rowLoop(FLOATS, RB, R, ROWS, row);
  return { locals: [[3, I32]], code };
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const str = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** The module's bytes; the memory import is `env.memory`, shared (max 4 GiB) or not. */
export function simdModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const types = [
    [0x60, ...vec([[I32], [I32], [I32], [I32]]), 0], // transpose
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [F32]]), 0], // softmaxGrad
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32]]), 0], // biasGelu
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), 0], // rowOp
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32]]), 0], // colGrad
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [F64]]), 0], // rmsNorm
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32]]), 0], // rmsNormGrad
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32]]), 0], // copyRows
  ];
  const bodies = [transposeBody(), softmaxGradBody(), biasGeluBody(), rowOpBody(), colGradBody(), rmsNormBody(), rmsNormGradBody(), copyRowsBody()];
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...str('env'), ...str('memory'), 0x02, ...limits]])),
    ...section(3, vec([[0], [1], [2], [3], [4], [5], [6], [7]])),
    ...section(7, vec([
      [...str('transpose'), 0x00, 0],
      [...str('softmaxGrad'), 0x00, 1],
      [...str('biasGelu'), 0x00, 2],
      [...str('rowOp'), 0x00, 3],
      [...str('colGrad'), 0x00, 4],
      [...str('rmsNorm'), 0x00, 5],
      [...str('rmsNormGrad'), 0x00, 6],
      [...str('copyRows'), 0x00, 7],
    ])),
    ...section(10, vec(bodies.map(({ locals, code }) => {
      const body = [...vec(locals.map(([n, t]) => [...uleb(n!), t!])), ...code, END];
      return [...uleb(body.length), ...body];
    }))),
  ];
  return new Uint8Array(bytes);
}

// ------------------------------------------------------------------------------------------ instances

export interface SimdKernels {
  transpose(src: number, dst: number, rows: number, cols: number): void;
  softmaxGrad(dy: number, y: number, dx: number, rows: number, cols: number, scale: number): void;
  biasGelu(x: number, bias: number, y: number, deriv: number, rows: number, cols: number): void;
  rowOp(x: number, p: number, q: number, out: number, rows: number, cols: number, mode: 0 | 1 | 2): void;
  colGrad(a: number, b: number, c: number, dx: number, acc1: number, acc2: number, rows: number, cols: number, mode: 0 | 1 | 2 | 3): void;
  rmsNorm(x: number, w: number, y: number, rstd: number, rows: number, cols: number, eps: number): void;
  rmsNormGrad(dy: number, x: number, rstd: number, w: number, dx: number, acc: number, rows: number, cols: number): void;
  copyRows(src: number, dst: number, rows: number, floats: number, srcStride: number, dstStride: number): void;
}

const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();
let enabled = true;

let filter: ((use: string) => boolean) | null = null;

/**
 * Restricts the SIMD loops to the uses `f` accepts (null: all): Flux kernel names (`FluxRmsNorm`, …) and
 * `copyRows` (strided copies in Transpose and Slice). For comparisons.
 */
export function setSimdKernelFilter(f: ((use: string) => boolean) | null): void {
  filter = f;
}

/** Whether the SIMD loop for `use` may run (see {@link setSimdKernelFilter}). */
export function simdAllowed(use: string): boolean {
  return filter == null || filter(use);
}

/** Turns the SIMD loops off (JS loops everywhere) or back on; for comparisons and tests. */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The SIMD kernels bound to `backend`'s heap, or null (disabled, no shared memory, no SIMD). */
export function simdKernels(backend: WasmBackendLike): SimdKernels | null {
  if (!enabled) return null;
  const mem = backend.wasm.wasmMemory;
  if (mem == null || typeof SharedArrayBuffer === 'undefined' || !(mem.buffer instanceof SharedArrayBuffer)) return null;
  let k = instances.get(mem);
  if (k === undefined) {
    try {
      const module = new WebAssembly.Module(simdModuleBytes(true));
      k = new WebAssembly.Instance(module, { env: { memory: mem } }).exports as unknown as SimdKernels;
    } catch {
      k = null;
    }
    instances.set(mem, k);
  }
  return k;
}
