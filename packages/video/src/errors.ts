/**
 * Typed errors. Every failure to read a clip is a {@link VideoDecodeError} naming the file and a machine-readable
 * cause, so a loader can count skips by cause and a user can see at a glance what is wrong with a file.
 */

/** Why a clip could not be read. */
export type DecodeFailureCause =
  | 'missing'
  | 'empty'
  | 'corrupt'
  | 'truncated'
  | 'unsupported-codec'
  | 'no-video-stream'
  | 'timeout'
  | 'aborted'
  | 'ffmpeg-failed';

/** A clip could not be probed or decoded. `file` is the path, `cause` says why, `stderr` holds ffmpeg's last words. */
export class VideoDecodeError extends Error {
  override readonly name = 'VideoDecodeError';
  readonly file: string;
  /** Machine-readable reason. (Shadows ES2022 `Error.cause`; the underlying error, if any, is in `error`.) */
  override readonly cause: DecodeFailureCause;
  /** Same as `cause`. */
  readonly kind: DecodeFailureCause;
  /** The human-readable detail, without the file name. */
  readonly detail: string;
  /** The last lines ffmpeg/ffprobe wrote to stderr, if a process ran. */
  readonly stderr: string;
  /** The underlying error (e.g. a Node fs error), if any. */
  readonly error: unknown;

  constructor(file: string, cause: DecodeFailureCause, detail: string, options: { stderr?: string; error?: unknown } = {}) {
    super(`${file}: ${cause}: ${detail}`);
    this.file = file;
    this.cause = cause;
    this.kind = cause;
    this.detail = detail;
    this.stderr = options.stderr ?? '';
    this.error = options.error;
  }
}

/** ffmpeg or ffprobe cannot be found or cannot run (a setup problem, never a per-clip skip). */
export class VideoToolError extends Error {
  override readonly name = 'VideoToolError';
  readonly tool: 'ffmpeg' | 'ffprobe';
  readonly path: string;
  constructor(tool: 'ffmpeg' | 'ffprobe', path: string, detail: string, error?: unknown) {
    super(
      `${tool} at "${path}" cannot run: ${detail}. Set FLUX_${tool.toUpperCase()}=/path/to/${tool} ` +
        `or pass { ${tool}Path } (see @flux/video README).`,
      error !== undefined ? { cause: error } : undefined,
    );
    this.tool = tool;
    this.path = path;
  }
}

/**
 * A request that cannot be honoured as given: an absurd output size, a byte budget it would exceed, a malformed
 * option. Thrown before any process starts. A `RangeError`, so code that caught the untyped errors still does;
 * the loader fails fast on it (it is the caller's bug, not a bad clip).
 */
export class VideoOptionError extends RangeError {
  override readonly name = 'VideoOptionError';
  /** The clip the request was for, when there is one. */
  readonly file: string | undefined;
  /** The option at fault, e.g. 'size', 'indices', 'crop', 'maxBytes', 'expectBytes'. */
  readonly option: string;
  /** What is wrong, without the file name. */
  readonly detail: string;
  /** The offending value. */
  readonly value: unknown;
  constructor(file: string | undefined, option: string, detail: string, value?: unknown) {
    super(`${file !== undefined ? `${file}: ` : ''}invalid ${option}: ${detail}`);
    this.file = file;
    this.option = option;
    this.detail = detail;
    this.value = value;
  }

  /** The same error for `file` (for validation done where the file was not known). */
  withFile(file: string): VideoOptionError {
    return this.file === file ? this : new VideoOptionError(file, this.option, this.detail, this.value);
  }
}

/** One problem found in a manifest. */
export interface ManifestProblem {
  kind: 'missing-file' | 'unknown-label' | 'parse' | 'duplicate';
  /** 1-based line (CSV/TSV/JSONL) or 0-based entry index (JSON), when known. */
  line?: number;
  /** The resolved video path, when the entry has one. */
  path?: string;
  label?: string;
  /** The field of a JSON entry (or the class name of a class-list object) at fault, when known. */
  field?: string;
  message: string;
}

/** A manifest had problems; all of them are listed (not thrown one at a time). */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly manifest: string;
  readonly problems: ManifestProblem[];
  constructor(manifest: string, problems: ManifestProblem[]) {
    const counts = new Map<string, number>();
    for (const p of problems) counts.set(p.kind, (counts.get(p.kind) ?? 0) + 1);
    const summary = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
    // Messages that already say where ("line 3: …", "entry 3: …") are not prefixed again.
    const where = (p: ManifestProblem) => (p.line !== undefined && !/^(line|entry) /.test(p.message) ? `line ${p.line}: ` : '');
    const shown = problems.slice(0, 20).map((p) => `  - ${where(p)}${p.message}`);
    const more = problems.length > 20 ? [`  … and ${problems.length - 20} more`] : [];
    super([`${manifest}: ${problems.length} problem(s) (${summary}):`, ...shown, ...more].join('\n'));
    this.manifest = manifest;
    this.problems = problems;
  }
}
