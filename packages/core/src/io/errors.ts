/**
 * The one error type of weights I/O: every problem with a file of weights (truncated, lying header,
 * unsupported dtype, disallowed pickle global, missing zip entry, …) throws a {@link WeightsFormatError}
 * whose message starts with the file name and, when known, the tensor name.
 */
export class WeightsFormatError extends Error {
  /** The file (path, or the name given for an in-memory buffer). */
  readonly file: string;
  /** The tensor the problem concerns, when there is one. */
  readonly tensor: string | undefined;

  constructor(file: string, message: string, tensor?: string) {
    super(`${file}: ${tensor !== undefined ? `tensor '${tensor}': ` : ''}${message}`);
    this.name = 'WeightsFormatError';
    this.file = file;
    this.tensor = tensor;
  }
}
