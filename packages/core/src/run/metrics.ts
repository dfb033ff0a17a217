/** JSON-lines metrics: one object per line, appended and flushed per record so a crash loses nothing logged. */
import fs from 'node:fs';
import path from 'node:path';

import { atomicWriteFileSync } from './atomic.js';

export type MetricRecord = Record<string, unknown>;

export class MetricsLogger {
  readonly file: string;

  /** Appends to `file` (created with its folder if missing). With `truncate`, starts it empty. */
  constructor(file: string, options: { truncate?: boolean } = {}) {
    this.file = path.resolve(file);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    if (options.truncate) fs.writeFileSync(this.file, '');
  }

  /** Appends one record, with `time` (ISO) added unless present. Non-finite numbers are written as strings ("NaN", "Infinity"). */
  log(record: MetricRecord): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record }, (_k, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
    );
    fs.appendFileSync(this.file, line + '\n');
  }

  /**
   * Drops records whose `step` is greater than `step` (used on resume, so records logged after the checkpoint
   * being resumed from are not duplicated).
   */
  truncateAfter(step: number): void {
    if (!fs.existsSync(this.file)) return;
    const kept = readMetrics(this.file).filter((r) => typeof r.step !== 'number' || r.step <= step);
    // Atomic: a crash here leaves the old log (a resume truncates it again), never a half-written one.
    atomicWriteFileSync(this.file, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }
}

/** Reads a JSONL metrics file; a torn last line (a crash mid-write) is ignored, any other bad line throws naming its number. */
export function readMetrics(file: string): MetricRecord[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: MetricRecord[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as MetricRecord);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => !l.trim());
      if (!isLast) throw new Error(`${file}:${i + 1}: not a JSON line`);
    }
  });
  return out;
}
