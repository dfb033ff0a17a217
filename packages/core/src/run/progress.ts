/**
 * Progress for long work. On a TTY: one line redrawn in place (bar, step/total, fields, rate, ETA).
 * Not on a TTY (CI, logs, pipes): quiet, one plain line at most every `every` steps (default: a tenth of
 * the total) and at the end. `quiet: true` prints nothing.
 */

export interface ProgressOptions {
  total: number;
  label?: string;
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  quiet?: boolean;
  /** Non-TTY: print every this many steps (default max(1, round(total/10))). */
  every?: number;
  /** Clock, for tests (ms). */
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

function formatField(v: string | number): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(4);
}

export class Progress {
  readonly total: number;
  private readonly label: string;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly quiet: boolean;
  private readonly every: number;
  private readonly now: () => number;
  private readonly start: number;
  private startStep: number | null = null;
  private lastPrinted = -1;
  private step = 0;
  private finished = false;

  constructor(options: ProgressOptions) {
    if (!(options.total >= 0)) throw new RangeError(`Progress total must be ≥ 0, got ${options.total}`);
    this.total = options.total;
    this.label = options.label ?? '';
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.quiet = options.quiet ?? false;
    this.every = options.every ?? Math.max(1, Math.round(options.total / 10));
    this.now = options.now ?? (() => performance.now());
    this.start = this.now();
  }

  /** The line for the current state (also what a non-TTY print shows). */
  line(fields: Record<string, string | number> = {}): string {
    const elapsed = (this.now() - this.start) / 1000;
    const done = this.step - (this.startStep ?? 0);
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.step) / rate : NaN;
    const frac = this.total > 0 ? Math.min(1, this.step / this.total) : 1;
    const width = 20;
    const bar = this.tty ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ` : '';
    const extra = Object.entries(fields).map(([k, v]) => `${k} ${formatField(v)}`);
    const stepTime = rate > 0 ? `${formatField(1 / rate)} s/step` : '';
    return [this.label, `${bar}${this.step}/${this.total}`, ...extra, stepTime, `elapsed ${formatDuration(elapsed)}`, this.step < this.total ? `ETA ${formatDuration(eta)}` : '']
      .filter(Boolean)
      .join('  ');
  }

  /** Records that `step` steps are done (resumed runs may start above 0), with fields such as loss. */
  update(step: number, fields: Record<string, string | number> = {}): void {
    if (this.startStep === null) this.startStep = Math.min(step, Math.max(0, step - 1));
    this.step = step;
    if (this.quiet) return;
    if (this.tty) {
      const cols = this.stream.columns ?? 120;
      this.stream.write(`\r${this.line(fields).slice(0, cols - 1).padEnd(Math.min(cols - 1, 100))}`);
    } else if (step >= this.total || step - Math.max(this.lastPrinted, 0) >= this.every || this.lastPrinted < 0) {
      this.lastPrinted = step;
      this.stream.write(this.line(fields) + '\n');
    }
  }

  /** Ends the line (TTY) and prints a final line (non-TTY) if the last update was not printed. */
  done(fields: Record<string, string | number> = {}): void {
    if (this.finished) return;
    this.finished = true;
    if (this.quiet) return;
    if (this.tty) this.stream.write(`\r${this.line(fields)}\n`);
    else if (this.lastPrinted !== this.step) this.stream.write(this.line(fields) + '\n');
  }
}
