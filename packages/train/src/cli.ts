/**
 * What the stage CLIs (flux-tune, flux-eval, flux-pretrain) share: strict option parsers with readable errors
 * (commander reports an {@link InvalidArgumentError} as `error: option '--x <n>' argument 'y' is invalid. …`)
 * and the config-file layer under the flags.
 */
import fs from 'node:fs';

/** A bad option value; `code` is the one commander recognises, so it prints the message without a stack. */
export class InvalidArgumentError extends Error {
  override name = 'InvalidArgumentError';
  readonly code = 'commander.invalidArgument';
  readonly exitCode = 1;
}

/** Raised for an invalid configuration (file or flags); the message lists every problem. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads a JSON config file (an object of config keys) with errors that name the file. */
export function readConfigFile(file: string, flag = '--config'): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${flag} ${file}: ${(err as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${flag} ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${flag} ${file} must hold a JSON object of settings, got ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

/** An integer option in [min, max] (max defaults to the largest safe integer). */
export function parseInteger(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`expected an integer, got '${v}'.`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${v} is too large (at most ${max}).`);
    if (n < min) throw new InvalidArgumentError(`must be ≥ ${min}, got ${n}.`);
    if (n > max) throw new InvalidArgumentError(`must be ≤ ${max}, got ${n}.`);
    return n;
  };
}

export function parseNumber(min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${v}'.`);
    if (n < min || n > max) throw new InvalidArgumentError(`must be in [${min}, ${max}], got ${n}.`);
    return n;
  };
}

export function parseIntList(v: string): number[] {
  const parts = v.split(/[,\s]+/).filter(Boolean);
  if (!parts.length || parts.some((p) => !/^\d+$/.test(p) || !Number.isSafeInteger(Number(p)))) throw new InvalidArgumentError(`expected comma-separated positive integers, got '${v}'.`);
  if (parts.length > 4096) throw new InvalidArgumentError(`at most 4096 values, got ${parts.length}.`);
  return parts.map(Number);
}

export function parseNumberList(v: string): number[] {
  const parts = v.split(/[,\s]+/).filter(Boolean);
  const nums = parts.map(Number);
  if (!parts.length || nums.some((n) => !Number.isFinite(n))) throw new InvalidArgumentError(`expected comma-separated numbers, got '${v}'.`);
  return nums;
}

export function parseRange(v: string): [number, number, number] {
  const m = /^(\d+)(?::|-|\.\.)(\d+)(?::(\d+))?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected MIN:MAX[:STEP], got '${v}'.`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)];
}

export function parsePair(v: string): [number, number] {
  const m = /^(\d+)(?::|-|,)(\d+)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected LOW:HIGH, got '${v}'.`);
  return [Number(m[1]), Number(m[2])];
}

export function parseGrid(v: string): { frames: number; size: number } {
  const m = /^(\d+)x(\d+)$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`expected FRAMESxSIZE such as 8x64, got '${v}'.`);
  return { frames: Number(m[1]), size: Number(m[2]) };
}

/**
 * The range checks of a flat config validator: `int(key, min, max)` and `num(key, lo, hi)` push
 * `<key> must be an integer in [min, max] (got …)` / `<key> must be a number in [lo, hi] (got …)` onto `errs`.
 */
export function configRangeChecks<C extends object>(c: C, errs: string[]): { int: (k: keyof C & string, min: number, max?: number) => void; num: (k: keyof C & string, lo: number, hi?: number) => void } {
  return {
    int: (k, min, max = 1e9) => {
      const v = c[k] as unknown;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) errs.push(`${k} must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
    },
    num: (k, lo, hi = Infinity) => {
      const v = c[k] as unknown;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) errs.push(`${k} must be a number in [${lo}, ${hi}] (got ${JSON.stringify(v)})`);
    },
  };
}
