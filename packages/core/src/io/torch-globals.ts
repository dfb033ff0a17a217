/**
 * The allow-list of globals a PyTorch state_dict pickle may name, each a small pure TypeScript function or an
 * inert marker, and the storage / tensor references they build. Used by the `.pth` reader.
 */
import type { DType } from './dtypes.js';
import { PICKLE_SETSTATE, type PickleGlobal, PyGlobal, describe } from './pickle.js';

/** Storage classes named in persistent ids, and their element types. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  'torch.DoubleStorage': 'float64',
  'torch.FloatStorage': 'float32',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
  'torch.UntypedStorage': 'uint8',
};

/** A storage named by a persistent id: `('storage', <StorageClass>, key, location, numel)`. */
export class TorchStorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly location: string,
  ) {}
}

/** A tensor as the pickle describes it: a strided view of a storage (not yet read). */
export class TorchTensorRef {
  constructor(
    readonly storage: TorchStorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}

  /** Python attributes of a tensor subclass (set by BUILD): not needed for the values, dropped. */
  [PICKLE_SETSTATE](_state: unknown): void {}
}

const intList = (v: unknown, what: string): number[] => {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new Error(`${what} must be a tuple of non-negative ints, got ${describe(v)}`);
  }
  return v as number[];
};

function rebuildTensor(args: unknown[]): TorchTensorRef {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof TorchStorageRef)) throw new Error(`expects a storage, got ${describe(storage)}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new Error(`bad storage offset ${String(offset)}`);
  const sz = intList(size, 'size');
  const st = intList(stride, 'stride');
  if (sz.length !== st.length) throw new Error(`size [${sz.join(', ')}] and stride [${st.join(', ')}] differ in rank`);
  return new TorchTensorRef(storage, offset, [...sz], [...st], requiresGrad === true);
}

function asTensor(v: unknown): TorchTensorRef {
  if (!(v instanceof TorchTensorRef)) throw new Error(`expects a tensor, got ${describe(v)}`);
  return v;
}

const marker: PickleGlobal = {};

/** The globals a state_dict pickle may name; each is a small pure function or a marker. */
export const TORCH_PICKLE_GLOBALS: Readonly<Record<string, PickleGlobal>> = {
  'collections.OrderedDict': {
    call: (args, context) => {
      const m = new Map<unknown, unknown>();
      const items = args[0];
      if (items !== undefined) {
        if (!Array.isArray(items)) throw new Error(`expects a list of pairs, got ${describe(items)}`);
        for (const kv of items) {
          if (!Array.isArray(kv) || kv.length !== 2) throw new Error('expects (key, value) pairs');
          m.set(context ? context.dictKey(kv[0]) : kv[0], kv[1]);
        }
      }
      return m;
    },
  },
  'torch._utils._rebuild_tensor_v2': { call: rebuildTensor },
  'torch._utils._rebuild_tensor': { call: rebuildTensor },
  'torch._utils._rebuild_parameter': { call: (args) => asTensor(args[0]) },
  'torch._utils._rebuild_parameter_with_state': { call: (args) => asTensor(args[0]) },
  'torch._tensor._rebuild_from_type_v2': {
    call: (args, context) => {
      const [fn, newType, fnArgs] = args;
      if (!(fn instanceof PyGlobal) || !fn.spec.call) throw new Error(`expects an allowed rebuild function, got ${describe(fn)}`);
      if (!(newType instanceof PyGlobal)) throw new Error(`expects a tensor type, got ${describe(newType)}`);
      if (!Array.isArray(fnArgs)) throw new Error(`expects an argument tuple, got ${describe(fnArgs)}`);
      return asTensor(fn.spec.call(fnArgs, context));
    },
  },
  'torch.Size': {
    call: (args) => [...intList(args[0] ?? [], 'torch.Size')],
  },
  'torch.device': {
    call: (args) =>
      args
        .map((a) => {
          if (typeof a !== 'string' && typeof a !== 'number') throw new Error(`expects a device type and index, got ${describe(a)}`);
          return String(a);
        })
        .join(':'),
  },
  '_codecs.encode': {
    call: (args) => {
      const [s, enc] = args;
      if (typeof s !== 'string') throw new Error(`expects a str, got ${describe(s)}`);
      if (enc !== 'latin1' && enc !== 'latin-1') return new TextEncoder().encode(s);
      return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
    },
  },
  'torch.Tensor': marker,
  'torch._tensor.Tensor': marker,
  'torch.nn.parameter.Parameter': marker,
  ...Object.fromEntries(Object.keys(TORCH_STORAGE_DTYPES).map((k) => [k, marker])),
};
