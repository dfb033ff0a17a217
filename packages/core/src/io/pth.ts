/**
 * PyTorch checkpoint reader (`torch.save` zip format, PyTorch ≥ 1.6), without Python: a zip of
 * `<archive>/data.pkl` (a pickle of the object) and `<archive>/data/<key>` (raw little-endian storages).
 * The pickle is interpreted by the restricted {@link unpickle} with an allow-list of the globals a state_dict
 * needs; tensors are rebuilt from (storage, offset, size, stride) and made contiguous.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

import { type DType, type TensorData, allocData, dataFromBytes, dataViewOrCopy, dtypeByteSize, swapBytes } from './dtypes.js';
import { WeightsFormatError } from './errors.js';
import { PyGlobal, PyObject, describe, unpickle } from './pickle.js';
import { type StateDict, shapeSize } from './record.js';
import { TORCH_PICKLE_GLOBALS, TORCH_STORAGE_DTYPES, TorchStorageRef, TorchTensorRef } from './torch-globals.js';
import { isZip, readZip, type ZipEntry } from './zip.js';

/** Keys under which checkpoints commonly nest their state_dict, tried in this order. */
export const PTH_WRAPPER_KEYS: readonly string[] = ['model', 'module', 'state_dict', 'model_state_dict'];

/** Options of {@link parsePth} / {@link readPth}. */
export interface PthOptions {
  /** Name used in errors (default: the path, or `<bytes>`). */
  name?: string;
  /**
   * Where the state_dict is: a top-level key (`'model_ema'`) or a key path (`['model', 'module']`). By
   * default the reader descends through {@link PTH_WRAPPER_KEYS} while the current dict holds no tensor
   * directly, and otherwise takes the top level.
   */
  key?: string | readonly string[];
  /**
   * Globals (`module.name`) to accept as inert records instead of rejecting the file, e.g.
   * `['argparse.Namespace']` for a checkpoint that also pickles its training arguments. They are never
   * imported or run; their instances appear as {@link PyObject} records and are left out of `extra`.
   */
  opaqueGlobals?: readonly string[];
}

/** What {@link readPth} returns. */
export interface PthCheckpoint {
  /** The state_dict, in pickle order; nested dicts are flattened with `.`. */
  tensors: StateDict;
  /** Key path where the state_dict was found (`[]` = top level, `['model']`, `['model', 'module']`, …). */
  path: string[];
  /**
   * Non-tensor top-level entries with simple values (numbers, strings, booleans, null, bigints, bytes, and
   * lists / dicts of those), e.g. `epoch`. Keys are strings.
   */
  extra: Record<string, unknown>;
  /** Top-level keys left out of both (other tensor dicts such as `optimizer`, opaque objects). */
  skipped: string[];
}

const containsTensor = (v: unknown, depth = 0): boolean =>
  v instanceof TorchTensorRef ||
  (depth < 8 && v instanceof Map && [...v.values()].some((x) => containsTensor(x, depth + 1)));

const NOT_SIMPLE = Symbol('not simple');

/** Sets an own property, even for keys such as `__proto__`. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function toPlain(v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return v;
  if (depth > 16) return NOT_SIMPLE;
  if (Array.isArray(v)) {
    const out = v.map((x) => toPlain(x, depth + 1));
    return out.includes(NOT_SIMPLE) ? NOT_SIMPLE : out;
  }
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) {
      const p = toPlain(x, depth + 1);
      if (p === NOT_SIMPLE) return NOT_SIMPLE;
      setOwn(out, String(k), p);
    }
    return out;
  }
  return NOT_SIMPLE;
}

/** Element strides of a contiguous (row-major) tensor of this size. */
function contiguousStrides(size: readonly number[]): number[] {
  const st = new Array<number>(size.length);
  let s = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= size[i]!;
  }
  return st;
}

/** True when a view with these size and strides is row-major contiguous. */
function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  const cs = contiguousStrides(size);
  return size.every((d, i) => d === 1 || stride[i] === cs[i]);
}

/** Copies the strided view (offset, size, stride) of `src` into a new contiguous array. */
function gatherStrided(src: TensorData, dtype: DType, offset: number, size: number[], stride: number[]): TensorData {
  const n = shapeSize(size);
  if (isContiguous(size, stride)) return src.slice(offset, offset + n) as TensorData;
  const out = allocData(dtype, n);
  if (n === 0) return out;
  const rank = size.length;
  const s = src as unknown as Float64Array; // element copies work for every typed array (bigint included)
  const o = out as unknown as Float64Array;
  const last = rank - 1;
  const inner = size[last]!;
  const innerStride = stride[last]!;
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let w = 0; w < n; ) {
    if (innerStride === 1) {
      o.set(s.subarray(base, base + inner), w);
      w += inner;
    } else {
      for (let j = 0, a = base; j < inner; j++, a += innerStride) o[w++] = s[a]!;
    }
    // Advance the outer index (all but the last dimension).
    let d = last - 1;
    for (; d >= 0; d--) {
      idx[d]!++;
      base += stride[d]!;
      if (idx[d]! < size[d]!) break;
      base -= stride[d]! * size[d]!;
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return out;
}

function describeLegacy(bytes: Uint8Array): string {
  if (bytes.length > 0 && bytes[0] === 0x80) {
    return 'is in the legacy (pre-1.6, non-zip) torch.save format, which this reader does not support; re-save it with a recent PyTorch (torch.save(torch.load(f), f))';
  }
  if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
    return 'is a legacy tar-format torch checkpoint, which this reader does not support; re-save it with a recent PyTorch';
  }
  return 'is not a PyTorch zip checkpoint (no zip signature)';
}

/**
 * Reads a PyTorch checkpoint held in memory. Throws {@link WeightsFormatError} (naming the file and, where it
 * applies, the tensor, the zip entry or the rejected pickle global) on anything unexpected.
 */
export function parsePth(bytes: Uint8Array, options: PthOptions = {}): PthCheckpoint {
  const file = options.name ?? '<bytes>';
  const fail = (msg: string, tensor?: string): never => {
    throw new WeightsFormatError(file, msg, tensor);
  };
  if (!isZip(bytes)) fail(describeLegacy(bytes));
  const entries = readZip(bytes, file);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length === 0) fail(`no <archive>/data.pkl entry: not a torch.save checkpoint (entries: ${[...entries.keys()].slice(0, 8).join(', ')})`);
  if (pkls.length > 1) fail(`several data.pkl entries (${pkls.join(', ')})`);
  const prefix = pkls[0]!.slice(0, -'/data.pkl'.length);
  const isTorchScript = entries.has(`${prefix}/constants.pkl`);

  const byteorderEntry = entries.get(`${prefix}/byteorder`);
  const byteorder = byteorderEntry ? new TextDecoder().decode(byteorderEntry.read()).trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') fail(`unknown byteorder ${JSON.stringify(byteorder)}`);

  const storages = new Map<string, TorchStorageRef>();
  const root = unpickle(entries.get(pkls[0]!)!.read(), {
    name: `${file}:${pkls[0]}`,
    globals: TORCH_PICKLE_GLOBALS,
    opaqueGlobals: options.opaqueGlobals,
    disallowedHint: isTorchScript
      ? 'this is a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead'
      : 'a state_dict checkpoint needs only tensors, storages and OrderedDict (pass opaqueGlobals to accept inert extras)',
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
        throw new Error(`unexpected persistent id ${describe(pid)}${Array.isArray(pid) ? ` ('${String(pid[0])}', …)` : ''}`);
      }
      const [, type, key, location, numel] = pid as unknown[];
      if (!(type instanceof PyGlobal) || !(type.qualname in TORCH_STORAGE_DTYPES)) throw new Error(`unexpected storage type ${describe(type)}`);
      if (typeof key !== 'string') throw new Error(`storage key is a ${describe(key)}`);
      if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new Error(`storage '${key}' has bad numel ${String(numel)}`);
      const dtype = TORCH_STORAGE_DTYPES[type.qualname]!;
      const known = storages.get(key);
      if (known) {
        if (known.dtype !== dtype) throw new Error(`storage '${key}' used both as ${known.dtype} and ${dtype}`);
        return known;
      }
      const ref = new TorchStorageRef(key, dtype, numel, String(location));
      storages.set(key, ref);
      return ref;
    },
  });

  if (!(root instanceof Map)) fail(`the checkpoint's root object is a ${describe(root)}, not a dict of tensors`);
  const top = root as Map<unknown, unknown>;

  // Find the state_dict.
  let dict = top;
  const path: string[] = [];
  if (options.key !== undefined) {
    for (const k of typeof options.key === 'string' ? [options.key] : options.key) {
      const next = dict.get(k);
      if (!(next instanceof Map)) {
        fail(`no dict at key path [${[...path, k].join(', ')}] (keys there: ${[...dict.keys()].map(String).slice(0, 20).join(', ')})`);
      }
      dict = next as Map<unknown, unknown>;
      path.push(k);
    }
  } else {
    while (![...dict.values()].some((v) => v instanceof TorchTensorRef)) {
      const k = PTH_WRAPPER_KEYS.find((w) => containsTensor(dict.get(w)));
      if (k === undefined) break;
      dict = dict.get(k) as Map<unknown, unknown>;
      path.push(k);
    }
  }
  if (!containsTensor(dict)) fail(`no tensors found (top-level keys: ${[...top.keys()].map(String).slice(0, 20).join(', ')})`);

  // Read storages lazily (only those the state_dict uses), each entry once. Contiguous views copy straight
  // from the entry bytes (one copy); strided views gather from a typed view of the storage.
  const swap = (d: TensorData): TensorData => {
    if (byteorder === 'big' && d.BYTES_PER_ELEMENT > 1) swapBytes(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), d.BYTES_PER_ELEMENT);
    return d;
  };
  const rawStorage = new Map<string, Uint8Array>();
  const typedStorage = new Map<string, TensorData>();
  const rawOf = (ref: TorchStorageRef, tensor: string): Uint8Array => {
    const cached = rawStorage.get(ref.key);
    if (cached) return cached;
    const entryName = `${prefix}/data/${ref.key}`;
    const entry: ZipEntry | undefined = entries.get(entryName);
    if (!entry) return fail(`storage entry '${entryName}' is missing from the archive`, tensor);
    const raw = entry.read();
    const nbytes = ref.numel * dtypeByteSize(ref.dtype);
    if (raw.length < nbytes) fail(`storage entry '${entryName}' has ${raw.length} bytes, but ${ref.numel} × ${ref.dtype} need ${nbytes}`, tensor);
    rawStorage.set(ref.key, raw);
    return raw;
  };
  const typedOf = (ref: TorchStorageRef, tensor: string): TensorData => {
    let t = typedStorage.get(ref.key);
    if (!t) {
      const raw = rawOf(ref, tensor);
      t = byteorder === 'big' ? swap(dataFromBytes(ref.dtype, raw, 0, ref.numel)) : dataViewOrCopy(ref.dtype, raw, 0, ref.numel);
      typedStorage.set(ref.key, t);
    }
    return t;
  };
  const materialise = (v: TorchTensorRef, name: string): TensorData => {
    const { dtype } = v.storage;
    const n = shapeSize(v.size);
    if (n === 0) return allocData(dtype, 0);
    if (isContiguous(v.size, v.stride)) return swap(dataFromBytes(dtype, rawOf(v.storage, name), v.offset * dtypeByteSize(dtype), n));
    return gatherStrided(typedOf(v.storage, name), dtype, v.offset, v.size, v.stride);
  };

  const tensors: StateDict = new Map();
  const visit = (d: Map<unknown, unknown>, prefixName: string, depth: number): void => {
    for (const [k, v] of d) {
      const name = `${prefixName}${String(k)}`;
      if (v instanceof TorchTensorRef) {
        const n = shapeSize(v.size);
        const itemsize = dtypeByteSize(v.storage.dtype);
        if (n * itemsize > 2 ** 32) fail(`shape [${v.size.join(', ')}] is too large to materialise`, name);
        if (n > 0) {
          const reach = v.offset + v.size.reduce((acc, s, i) => acc + (s - 1) * v.stride[i]!, 0);
          if (reach >= v.storage.numel) {
            fail(
              `view (offset ${v.offset}, size [${v.size.join(', ')}], stride [${v.stride.join(', ')}]) reaches element ${reach} of storage '${v.storage.key}', which has ${v.storage.numel}`,
              name,
            );
          }
        }
        if (tensors.has(name)) fail('appears twice after flattening nested dicts', name);
        tensors.set(name, { dtype: v.storage.dtype, shape: [...v.size], data: materialise(v, name) });
      } else if (v instanceof Map && depth < 8 && containsTensor(v)) {
        visit(v, `${name}.`, depth + 1);
      }
    }
  };
  visit(dict, '', 0);

  const extra: Record<string, unknown> = {};
  const skipped: string[] = [];
  const head = path[0];
  for (const [k, v] of top) {
    if (path.length === 0 ? containsTensor(v) : k === head) continue;
    const p = v instanceof PyObject ? NOT_SIMPLE : toPlain(v);
    if (p === NOT_SIMPLE) skipped.push(String(k));
    else setOwn(extra, String(k), p);
  }
  return { tensors, path, extra, skipped };
}

/** Reads a PyTorch checkpoint file (`torch.save` zip format). See {@link parsePth}. */
export async function readPth(path: string, options: PthOptions = {}): Promise<PthCheckpoint> {
  return parsePth(await fsp.readFile(path), { name: path, ...options });
}

/** Synchronous {@link readPth}. */
export function readPthSync(path: string, options: PthOptions = {}): PthCheckpoint {
  return parsePth(fs.readFileSync(path), { name: path, ...options });
}
