/** Commander helpers shared by flux-tune and flux-eval: strict number/list parsers with readable errors. */
import { InvalidArgumentError } from 'commander';

export function parseInteger(min = 0) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`expected an integer, got '${v}'.`);
    const n = Number(v);
    if (n < min) throw new InvalidArgumentError(`must be ≥ ${min}, got ${n}.`);
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
  if (!parts.length || parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(`expected comma-separated positive integers, got '${v}'.`);
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
