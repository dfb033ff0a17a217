/** Typed errors of the language-model side of @flux/chat-probe. Every message names the cause, and the file where there is one. */

/** Bad input to a language model (shapes, dtypes, ids out of range, positions past the context) or a bad option. */
export class LanguageModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LanguageModelError';
  }
}

/** A Llama config (config.json, or one passed to {@link createTinyLlama}) that cannot describe a model this package runs. */
export class LlamaConfigError extends LanguageModelError {
  /** The config file, or `<config>` for an in-memory config. */
  readonly file: string;
  /** Every problem found. */
  readonly problems: string[];

  constructor(file: string, problems: string[]) {
    super(`${file}: unusable Llama config — ${problems.join('; ')}`);
    this.name = 'LlamaConfigError';
    this.file = file;
    this.problems = problems;
  }
}

/** One tensor whose shape is not the one the model expects (Hugging Face / PyTorch layout). */
export interface LlamaShapeMismatch {
  name: string;
  expected: number[];
  got: number[];
}

/**
 * A strict load found problems: every missing, unexpected and mis-shaped tensor is listed (and named in the
 * message, which starts with the file). Nothing was assigned.
 */
export class LlamaStateDictMismatchError extends LanguageModelError {
  readonly file: string;
  readonly missing: string[];
  readonly unexpected: string[];
  readonly mismatched: LlamaShapeMismatch[];

  constructor(file: string, missing: string[], unexpected: string[], mismatched: LlamaShapeMismatch[]) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length) parts.push(`shape mismatch (${mismatched.length}): ${mismatched.map((m) => `${m.name} expected [${m.expected.join(',')}] got [${m.got.join(',')}]`).join(', ')}`);
    super(`${file}: Llama weights do not match the model — ${parts.join('; ')}`);
    this.name = 'LlamaStateDictMismatchError';
    this.file = file;
    this.missing = missing;
    this.unexpected = unexpected;
    this.mismatched = mismatched;
  }
}

/** A model or tokenizer folder that cannot be read (a file missing, not JSON, not a tokenizer.json, …). */
export class ModelFolderError extends LanguageModelError {
  readonly file: string;

  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ModelFolderError';
    this.file = file;
  }
}
