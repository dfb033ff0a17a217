/** Typed errors of @flux/clip. Every message names the cause (and the file, for checkpoint problems). */

/** Bad input to the tokenizer (non-string text, a bad context length, options or serialised form). */
export class ClipTokenizerError extends Error {
  constructor(message: string) {
    super(`ClipTokenizer: ${message}`);
    this.name = 'ClipTokenizerError';
  }
}

/** Bad configuration of, or bad input to, a text encoder (shapes, dtypes, ids or EOT positions out of range). */
export class TextEncoderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TextEncoderError';
  }
}

/** One tensor whose shape is not the one the model expects (PyTorch layout). */
export interface ShapeMismatch {
  name: string;
  expected: number[];
  got: number[];
}

/**
 * A strict load found problems: every missing, unexpected and mis-shaped tensor is listed (and named in the
 * message, which starts with the file). Nothing was assigned.
 */
export class TextStateDictMismatchError extends Error {
  readonly file: string;
  readonly missing: string[];
  readonly unexpected: string[];
  readonly mismatched: ShapeMismatch[];

  constructor(file: string, missing: string[], unexpected: string[], mismatched: ShapeMismatch[]) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length)
      parts.push(`shape mismatch (${mismatched.length}): ${mismatched.map((m) => `${m.name} expected [${m.expected.join(',')}] got [${m.got.join(',')}]`).join(', ')}`);
    super(`${file}: text encoder state_dict does not match the model — ${parts.join('; ')}`);
    this.name = 'TextStateDictMismatchError';
    this.file = file;
    this.missing = missing;
    this.unexpected = unexpected;
    this.mismatched = mismatched;
  }
}
