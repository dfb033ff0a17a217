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

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

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
  /**
   * The most bytes of tensor data the reader allocates: the materialised tensors (contiguous copies, so an
   * expanded view such as `x.expand(1000, 1000)` counts its full size) plus every zip entry it inflates
   * (deflated `data.pkl` and storages, of which only the bytes the tensors reach are inflated). Going over it
   * throws a {@link WeightsFormatError} naming the file and the tensor. Default {@link pthDefaultMaxBytes}:
   * `max(256 MiB, 8 × the file size)`.
   */
  maxBytes?: number;
}

/** The default {@link PthOptions.maxBytes} for a checkpoint of `fileSize` bytes: `max(256 MiB, 8 × fileSize)`. */
export function pthDefaultMaxBytes(fileSize: number): number {
  return Math.max(256 * 2 ** 20, 8 * fileSize);
}

/** What {@link readPth} returns. */
export interface PthCheckpoint {
  /** The state_dict, in pickle order; nested dicts are flattened with `.`. */
  tensors: StateDict;
  /** Key path where the state_dict was found (`[]` = top level, `['model']`, `['model', 'module']`, …). */
  path: string[];
  /**
   * Non-tensor top-level entries with simple values (numbers, strings, booleans, null, bigints, bytes, and
   * lists / dicts of those, nested at most 17 deep), e.g. `epoch`. Keys are strings. An object the pickle
   * shares (memo references) appears as one shared value; entries that contain themselves, or that would
   * expand (counting each share again) to more than {@link PTH_EXTRA_MAX_VALUES} values in all, are skipped.
   */
  extra: Record<string, unknown>;
  /** Top-level keys left out of both (other tensor dicts such as `optimizer`, opaque objects). */
  skipped: string[];
}

/** Levels of nested dicts searched for tensors (the state_dict search and the flattening). */
const MAX_NEST = 8;
/** Levels of containers an `extra` value may have. */
const MAX_PLAIN_HEIGHT = 17;
/**
 * The most values `extra` holds once expanded: each share of a pickled object counts again, each 64
 * characters of a string or bytes count as one value.
 */
export const PTH_EXTRA_MAX_VALUES = 1_000_000;

type Dict = Map<unknown, unknown>;

/**
 * For every dict reachable from `root` through dict values, how many dict levels down its nearest tensor is
 * (1 = a tensor value of its own), up to {@link MAX_NEST}; dicts not listed have none within reach. One pass
 * over the distinct dicts (shared and cyclic ones are visited once), then a breadth-first search back from
 * the dicts holding tensors: linear in the pickle, however often dicts are shared.
 */
function tensorDepths(root: Dict): Map<Dict, number> {
  const parents = new Map<Dict, Dict[]>();
  const depth = new Map<Dict, number>();
  const queue: Dict[] = [];
  const seen = new Set<Dict>([root]);
  const stack: Dict[] = [root];
  while (stack.length) {
    const d = stack.pop()!;
    for (const v of d.values()) {
      if (v instanceof TorchTensorRef) {
        if (!depth.has(d)) {
          depth.set(d, 1);
          queue.push(d);
        }
      } else if (v instanceof Map) {
        const ps = parents.get(v);
        if (ps) ps.push(d);
        else parents.set(v, [d]);
        if (!seen.has(v)) {
          seen.add(v);
          stack.push(v);
        }
      }
    }
  }
  for (let i = 0; i < queue.length; i++) {
    const d = queue[i]!;
    const h = depth.get(d)!;
    if (h >= MAX_NEST) continue;
    for (const p of parents.get(d) ?? []) {
      if (!depth.has(p)) {
        depth.set(p, h + 1);
        queue.push(p);
      }
    }
  }
  return depth;
}

const NOT_SIMPLE = Symbol('not simple');

/** Sets an own property, even for keys such as `__proto__`. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A converted container: its plain value, exact container height and expanded size (saturated). */
interface Plain {
  value: unknown;
  height: number;
  size: number;
}
/** A container that is not simple: `fixed` at any depth (an opaque value, a cycle, too large), else only too high for `allowance`. */
interface NotPlain {
  fixed: boolean;
  allowance: number;
}
const isPlain = (m: Plain | NotPlain): m is Plain => 'value' in m;

/**
 * Converts pickled values to plain JS values (lists → arrays, dicts → objects) for `extra`. Each distinct
 * container is converted once per height allowance (so at most {@link MAX_PLAIN_HEIGHT} + 1 times, and
 * only when it was first met too deep), so shared containers cost their size once and the output shares
 * them too; a container that contains itself is not simple.
 */
class PlainConverter {
  private readonly memo = new Map<object, Plain | NotPlain>();
  private readonly active = new Set<object>();

  /** The plain value and expanded size of `v`, or NOT_SIMPLE. */
  convert(v: unknown): Plain | typeof NOT_SIMPLE {
    return this.walk(v, MAX_PLAIN_HEIGHT);
  }

  /** `v` converted, if it is simple with at most `allowance` levels of containers. */
  private walk(v: unknown, allowance: number): Plain | typeof NOT_SIMPLE {
    if (v === null || typeof v !== 'object') {
      return { value: v, height: 0, size: typeof v === 'string' ? 1 + Math.floor(v.length / 64) : 1 };
    }
    if (v instanceof Uint8Array) return { value: v, height: 0, size: 1 + Math.floor(v.length / 64) };
    if (!Array.isArray(v) && !(v instanceof Map)) return NOT_SIMPLE;
    const known = this.memo.get(v);
    if (known) {
      if (isPlain(known)) return known.height <= allowance ? known : NOT_SIMPLE;
      if (known.fixed || allowance <= known.allowance) return NOT_SIMPLE;
    }
    let result: Plain | NotPlain;
    if (this.active.has(v)) result = { fixed: true, allowance }; // contains itself
    else if (allowance <= 0) result = { fixed: false, allowance };
    else {
      this.active.add(v);
      try {
        result = this.build(v, allowance);
      } finally {
        this.active.delete(v);
      }
    }
    this.memo.set(v, result);
    return isPlain(result) ? result : NOT_SIMPLE;
  }

  /** Why `x` (a child that did not convert) is not simple, as seen by its parent at `allowance`. */
  private failure(x: unknown, allowance: number): NotPlain {
    const m = x !== null && typeof x === 'object' ? this.memo.get(x) : undefined;
    if (m === undefined) return { fixed: true, allowance }; // an opaque object (tensor, PyObject, global, …)
    return { fixed: !isPlain(m) && m.fixed, allowance };
  }

  private build(v: unknown[] | Dict, allowance: number): Plain | NotPlain {
    let height = 1;
    let size = 1;
    const add = (r: Plain): void => {
      height = Math.max(height, r.height + 1);
      size = Math.min(size + r.size, PTH_EXTRA_MAX_VALUES + 1);
    };
    let value: unknown;
    if (Array.isArray(v)) {
      const out: unknown[] = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const r = this.walk(v[i], allowance - 1);
        if (r === NOT_SIMPLE) return this.failure(v[i], allowance);
        add(r);
        out[i] = r.value;
      }
      value = out;
    } else {
      const out: Record<string, unknown> = {};
      for (const [k, x] of v) {
        const r = this.walk(x, allowance - 1);
        if (r === NOT_SIMPLE) return this.failure(x, allowance);
        add(r);
        setOwn(out, String(k), r.value);
      }
      value = out;
    }
    return size > PTH_EXTRA_MAX_VALUES ? { fixed: true, allowance } : { value, height, size };
  }
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

/** Copies `o[w, w + len)` after itself until it fills `o[w, w + len × times)` (doubling copies). */
function repeatBlock(o: Float64Array, w: number, len: number, times: number): void {
  const total = len * times;
  for (let filled = len; filled < total; ) {
    const c = Math.min(filled, total - filled);
    o.copyWithin(w + filled, w, w + c);
    filled += c;
  }
}

/**
 * Copies the strided view (offset, size, stride) of `src` into a new contiguous array. Size-1 dimensions are
 * dropped and dimensions that step through memory together are merged (so rows are as long as they can be);
 * a stride-0 (expanded) dimension gathers its block once and repeats it by block copies, so an expanded
 * view costs about a memcpy of its output.
 */
function gatherStrided(src: TensorData, dtype: DType, offset: number, fullSize: number[], fullStride: number[]): TensorData {
  const n = shapeSize(fullSize);
  if (isContiguous(fullSize, fullStride)) return src.slice(offset, offset + n) as TensorData;
  const out = allocData(dtype, n);
  if (n === 0) return out;
  const size: number[] = [];
  const stride: number[] = [];
  for (let i = 0; i < fullSize.length; i++) {
    if (fullSize[i] === 1) continue;
    const k = size.length - 1;
    if (k >= 0 && stride[k] === fullStride[i]! * fullSize[i]!) {
      size[k] *= fullSize[i]!; // dimension k steps over dimension i exactly: one dimension
      stride[k] = fullStride[i]!;
    } else {
      size.push(fullSize[i]!);
      stride.push(fullStride[i]!);
    }
  }
  if (size.length === 0) return src.slice(offset, offset + 1) as TensorData;
  const rank = size.length;
  const s = src as unknown as Float64Array; // element copies work for every typed array (bigint included)
  const o = out as unknown as Float64Array;
  const block = new Array<number>(rank + 1).fill(1); // elements per index of each dimension
  for (let d = rank - 1; d >= 0; d--) block[d] = block[d + 1]! * size[d]!;
  const last = rank - 1;
  const inner = size[last]!;
  const innerStride = stride[last]!;
  const row = (base: number, w: number): void => {
    if (innerStride === 0) o.fill(s[base]!, w, w + inner);
    else if (innerStride === 1 && inner >= 64) o.set(s.subarray(base, base + inner), w);
    else for (let j = 0, a = base; j < inner; j++, a += innerStride) o[w + j] = s[a]!;
  };
  const fill = (d: number, base: number, w: number): void => {
    if (d === last) return row(base, w);
    const len = block[d + 1]!;
    const st = stride[d]!;
    if (st === 0) {
      fill(d + 1, base, w);
      repeatBlock(o, w, len, size[d]!);
    } else if (d === last - 1) {
      for (let i = 0, b = base; i < size[d]!; i++, b += st) row(b, w + i * len);
    } else {
      for (let i = 0, b = base; i < size[d]!; i++, b += st) fill(d + 1, b, w + i * len);
    }
  };
  fill(0, offset, 0);
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
  const maxBytes = options.maxBytes ?? pthDefaultMaxBytes(bytes.length);
  if (!(maxBytes >= 0)) throw new RangeError(`parsePth: maxBytes must be a non-negative number, got ${String(maxBytes)}`);
  let spent = 0;
  /** Charges `n` bytes to the budget before they are allocated. */
  const spend = (n: number, what: string, tensor?: string): void => {
    if (spent + n > maxBytes) {
      fail(
        `${what} needs ${n} bytes, which would take the bytes read past the reader's budget of ${maxBytes} (maxBytes; ${spent} already used): an expanded view or a decompression bomb? Pass a larger maxBytes to read it`,
        tensor,
      );
    }
    spent += n;
  };

  if (!isZip(bytes)) fail(describeLegacy(bytes));
  const entries = readZip(bytes, file);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length === 0) fail(`no <archive>/data.pkl entry: not a torch.save checkpoint (entries: ${[...entries.keys()].slice(0, 8).join(', ')})`);
  if (pkls.length > 1) fail(`several data.pkl entries (${pkls.join(', ')})`);
  const prefix = pkls[0]!.slice(0, -'/data.pkl'.length);
  const isTorchScript = entries.has(`${prefix}/constants.pkl`);

  const byteorderEntry = entries.get(`${prefix}/byteorder`);
  if (byteorderEntry && byteorderEntry.size > 64) fail(`entry '${byteorderEntry.name}' is ${byteorderEntry.size} bytes, not a byte order`);
  const byteorder = byteorderEntry ? new TextDecoder().decode(byteorderEntry.read()).trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') fail(`unknown byteorder ${JSON.stringify(byteorder.slice(0, 64))}`);

  const pklEntry = entries.get(pkls[0]!)!;
  if (pklEntry.method !== 0) spend(pklEntry.size, `inflating '${pklEntry.name}'`);
  const pickle = pklEntry.read();
  const storages = new Map<string, TorchStorageRef>();
  const root = unpickle(pickle, {
    name: `${file}:${pkls[0]}`,
    globals: TORCH_PICKLE_GLOBALS,
    opaqueGlobals: options.opaqueGlobals,
    disallowedHint: isTorchScript
      ? 'this is a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead'
      : 'a state_dict checkpoint needs only tensors, storages and OrderedDict (pass opaqueGlobals to accept inert extras)',
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
        const head = Array.isArray(pid) ? (typeof pid[0] === 'string' ? ` ('${pid[0].slice(0, 64)}', …)` : ` (${describe(pid[0])}, …)`) : '';
        throw new Error(`unexpected persistent id ${describe(pid)}${head}`);
      }
      const [, type, key, location, numel] = pid as unknown[];
      if (!(type instanceof PyGlobal) || !hasOwn(TORCH_STORAGE_DTYPES, type.qualname)) throw new Error(`unexpected storage type ${describe(type)}`);
      if (typeof key !== 'string') throw new Error(`storage key is a ${describe(key)}`);
      if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
        throw new Error(`storage '${key}' has bad numel ${typeof numel === 'number' || typeof numel === 'bigint' ? String(numel) : describe(numel)}`);
      }
      const dtype = TORCH_STORAGE_DTYPES[type.qualname]!;
      const known = storages.get(key);
      if (known) {
        if (known.dtype !== dtype) throw new Error(`storage '${key}' used both as ${known.dtype} and ${dtype}`);
        return known;
      }
      const ref = new TorchStorageRef(key, dtype, numel, typeof location === 'string' ? location : describe(location));
      storages.set(key, ref);
      return ref;
    },
  });

  if (!(root instanceof Map)) fail(`the checkpoint's root object is a ${describe(root)}, not a dict of tensors`);
  const top = root as Dict;
  const keysOf = (d: Dict): string => [...d.keys()].slice(0, 20).map(String).join(', ');

  // How far down each dict's nearest tensor is; shared and cyclic dicts are walked once.
  const depths = tensorDepths(top);
  /** True when `v` is a tensor or a dict with a tensor within MAX_NEST levels of dicts. */
  const containsTensor = (v: unknown): boolean => v instanceof TorchTensorRef || (v instanceof Map && depths.has(v));

  // Find the state_dict.
  let dict = top;
  const path: string[] = [];
  if (options.key !== undefined) {
    for (const k of typeof options.key === 'string' ? [options.key] : options.key) {
      const next = dict.get(k);
      if (!(next instanceof Map)) fail(`no dict at key path [${[...path, k].join(', ')}] (keys there: ${keysOf(dict)})`);
      dict = next as Dict;
      path.push(k);
    }
  } else {
    const seen = new Set<Dict>([dict]);
    while (![...dict.values()].some((v) => v instanceof TorchTensorRef)) {
      const k = PTH_WRAPPER_KEYS.find((w) => containsTensor(dict.get(w)));
      if (k === undefined) break;
      dict = dict.get(k) as Dict;
      path.push(k);
      if (seen.has(dict)) fail(`the dict at key path [${path.join(', ')}] contains itself`);
      seen.add(dict);
    }
  }
  if (!containsTensor(dict)) fail(`no tensors found (top-level keys: ${keysOf(top)})`);

  // Flatten the state_dict into (name, view) pairs, checking every view against its storage and charging
  // the bytes it will take before anything is read. A dict shared under several keys is flattened under
  // each (as PyTorch would see it), within a bound on the names so made; a dict inside itself is an error.
  const flatLimit = Math.max(2 ** 22, 8 * pickle.length);
  let flatCost = 0;
  const views: { name: string; ref: TorchTensorRef }[] = [];
  const names = new Set<string>();
  /** Elements of each storage the views reach (the prefix to read). */
  const reachOf = new Map<TorchStorageRef, number>();
  const onPath = new Set<Dict>();
  const flatten = (d: Dict, prefixName: string, depth: number): void => {
    onPath.add(d);
    for (const [k, v] of d) {
      const name = `${prefixName}${String(k)}`;
      flatCost += 64 + name.length;
      if (flatCost > flatLimit) {
        fail(`nested dicts expand to too many tensor names (over ${views.length}, at '${name.slice(0, 200)}'): dicts shared through pickle memo references?`);
      }
      if (v instanceof TorchTensorRef) {
        const { dtype, numel, key } = v.storage;
        const n = shapeSize(v.size);
        const itemsize = dtypeByteSize(dtype);
        if (n * itemsize > 2 ** 32) fail(`shape [${v.size.join(', ')}] is too large to materialise`, name);
        if (n > 0) {
          const reach = v.offset + v.size.reduce((acc, s, i) => acc + (s - 1) * v.stride[i]!, 0);
          if (reach >= numel) {
            fail(
              `view (offset ${v.offset}, size [${v.size.join(', ')}], stride [${v.stride.join(', ')}]) reaches element ${reach} of storage '${key}', which has ${numel}`,
              name,
            );
          }
          reachOf.set(v.storage, Math.max(reachOf.get(v.storage) ?? 0, reach + 1));
          spend(n * itemsize, `materialising shape [${v.size.join(', ')}] (stride [${v.stride.join(', ')}]) × ${dtype}`, name);
        }
        if (names.has(name)) fail('appears twice after flattening nested dicts', name);
        names.add(name);
        views.push({ name, ref: v });
      } else if (v instanceof Map && depth < MAX_NEST && containsTensor(v)) {
        if (onPath.has(v)) fail(`nested dict '${name.slice(0, 200)}' contains itself (a cycle through pickle memo references)`);
        flatten(v, `${name}.`, depth + 1);
      }
    }
    onPath.delete(d);
  };
  flatten(dict, '', 0);

  // Read the storages the views reach, each entry once and only as far as the views reach (a deflated entry
  // is inflated only that far). Contiguous views copy straight from the entry bytes (one copy); strided
  // views gather from a typed view of the storage.
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
    const itemsize = dtypeByteSize(ref.dtype);
    const nbytes = ref.numel * itemsize;
    if (entry.size < nbytes) fail(`storage entry '${entryName}' has ${entry.size} bytes, but ${ref.numel} × ${ref.dtype} need ${nbytes}`, tensor);
    const want = (reachOf.get(ref) ?? 0) * itemsize;
    if (entry.method !== 0) spend(want, `inflating storage entry '${entryName}'`, tensor);
    const raw = entry.read(want);
    rawStorage.set(ref.key, raw);
    return raw;
  };
  const typedOf = (ref: TorchStorageRef, tensor: string): TensorData => {
    let t = typedStorage.get(ref.key);
    if (!t) {
      const raw = rawOf(ref, tensor);
      // A misaligned or big-endian storage prefix is copied once (at most the bytes already read or charged).
      const len = raw.length / dtypeByteSize(ref.dtype);
      t = byteorder === 'big' ? swap(dataFromBytes(ref.dtype, raw, 0, len)) : dataViewOrCopy(ref.dtype, raw, 0, len);
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
  for (const { name, ref } of views) tensors.set(name, { dtype: ref.storage.dtype, shape: [...ref.size], data: materialise(ref, name) });

  // Everything else at the top level: plain values go to `extra` (within a bound on their expanded size),
  // the rest is named in `skipped`.
  const extra: Record<string, unknown> = {};
  const skipped: string[] = [];
  const head = path[0];
  const plain = new PlainConverter();
  let extraSize = 0;
  for (const [k, v] of top) {
    if (path.length === 0 ? containsTensor(v) : k === head) continue;
    const p = v instanceof PyObject ? NOT_SIMPLE : plain.convert(v);
    if (p === NOT_SIMPLE || extraSize + p.size > PTH_EXTRA_MAX_VALUES) skipped.push(String(k));
    else {
      extraSize += p.size;
      setOwn(extra, String(k), p.value);
    }
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
