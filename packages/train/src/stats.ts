/**
 * Seeds and significance: every comparison a Flux report makes (tune, and the later stages' reports, which must
 * use these helpers rather than their own) is a mean over seeds with its spread, and a difference counts as a win
 * only when it exceeds twice its standard error.
 */

/** Mean and sample standard deviation (n − 1; 0 for a single value) of a list of numbers. */
export interface MeanStd {
  mean: number;
  std: number;
  n: number;
}

export function meanStd(values: readonly number[]): MeanStd {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  let s = 0;
  for (const v of values) s += v;
  const mean = s / n;
  let q = 0;
  for (const v of values) q += (v - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(q / (n - 1)) : 0, n };
}

/** A paired difference a − b over seeds, its standard error, and whether it is a win / loss at 2 SE. */
export interface Comparison {
  /** Mean of the per-seed differences a − b. */
  mean: number;
  /** Standard error of that mean: std(a − b) / √n (0 with one seed — then nothing is significant). */
  se: number;
  n: number;
  /** 'win' when mean > 2·SE, 'loss' when mean < −2·SE, else 'no significant difference' (always, with fewer than 2 seeds). */
  verdict: 'win' | 'loss' | 'no significant difference';
}

/** Compares paired per-seed values (seed i of `a` with seed i of `b`: same data order and sampling streams). */
export function comparePaired(a: readonly number[], b: readonly number[]): Comparison {
  if (a.length !== b.length) throw new RangeError(`comparePaired: ${a.length} values against ${b.length}`);
  const d = a.map((x, i) => x - b[i]!);
  const { mean, std, n } = meanStd(d);
  const se = n > 1 ? std / Math.sqrt(n) : 0;
  const verdict = n < 2 ? 'no significant difference' : mean > 2 * se ? 'win' : mean < -2 * se ? 'loss' : 'no significant difference';
  return { mean, se, n, verdict };
}

/** `81.2 ± 1.3` (values as fractions, printed in percent; the ± is the standard deviation over seeds). */
export function fmtPct(m: MeanStd, digits = 1): string {
  if (!Number.isFinite(m.mean)) return '–';
  return m.n > 1 ? `${(m.mean * 100).toFixed(digits)} ± ${(m.std * 100).toFixed(digits)}` : (m.mean * 100).toFixed(digits);
}

/** `+2.1 ± 0.8 points (win)` for a comparison of fractions (± is the standard error). */
export function fmtComparison(c: Comparison): string {
  const sign = c.mean >= 0 ? '+' : '−';
  return `${sign}${Math.abs(c.mean * 100).toFixed(1)} ± ${(c.se * 100).toFixed(1)} points (${c.verdict}${c.n > 1 ? `, n = ${c.n}` : ', one seed'})`;
}
