/**
 * A restricted pickle interpreter. It understands the opcodes of protocols 2–5 that data (not code) needs,
 * and resolves `GLOBAL` / `STACK_GLOBAL` only against an explicit allow-list whose entries are plain
 * TypeScript functions: a global outside the list is rejected the moment it is named, with an error naming
 * it. Nothing from the pickle is ever evaluated or imported.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2⁵³), float → number,
 * str → string, bytes → Uint8Array, list and tuple → array, dict → Map.
 */
import { WeightsFormatError } from './errors.js';

/** What {@link unpickle} hands to an allowed global's implementation, besides the arguments. */
export interface PickleContext {
  /**
   * The Map key {@link unpickle} uses for a Python dict key: primitives as themselves, tuples by their text
   * `(a, b)` (bounded: a longer or self-containing key is an error), other objects by identity.
   */
  dictKey(key: unknown): unknown;
}

/** What an allowed global may do. */
export interface PickleGlobal {
  /**
   * Implements `REDUCE` (a call `g(*args)`) and, unless `create` is given, `NEWOBJ`. Absent: not callable.
   * {@link unpickle} always passes `context`; it is optional for callers outside a pickle.
   */
  call?: (args: unknown[], context?: PickleContext) => unknown;
  /** Implements `NEWOBJ` / `NEWOBJ_EX` (`cls.__new__(cls, *args)`). */
  create?: (args: unknown[], context?: PickleContext) => unknown;
}

/** A global named by the pickle (pushed by `GLOBAL` / `STACK_GLOBAL`). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly spec: PickleGlobal,
  ) {}

  /** `module.name`. */
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * An instance of a global the caller allowed as opaque: it is recorded (class, constructor arguments,
 * state), never constructed.
 */
export class PyObject {
  state: unknown = undefined;

  constructor(
    readonly cls: string,
    readonly args: unknown[],
  ) {}
}

/** Objects that accept `BUILD` (`__setstate__`) implement this method. */
export const PICKLE_SETSTATE: unique symbol = Symbol('pickle.setstate');

interface Settable {
  [PICKLE_SETSTATE](state: unknown): void;
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Name used in errors (default `<pickle>`). */
  name?: string;
  /** The allowed globals, keyed `module.name`. */
  globals: Readonly<Record<string, PickleGlobal>>;
  /**
   * Extra globals to accept as opaque markers (`module.name`): calling or instantiating them yields a
   * {@link PyObject} record, never running anything.
   */
  opaqueGlobals?: readonly string[];
  /** Implements `BINPERSID` / `PERSID`. Absent: persistent ids are rejected. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Extra wording appended to the "not allowed" error. */
  disallowedHint?: string;
}

/** Opcode names, for error messages. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT', 0x80: 'PROTO',
  0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS',
  0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** The longest text of a tuple dict key, and its deepest nesting. */
const MAX_KEY_TEXT = 4096;
const MAX_KEY_NESTING = 32;

/**
 * A hashable Map key for a Python dict key: primitives as themselves, tuples by their text, other objects
 * by identity. `cache` remembers the text of tuples already seen (a tuple shared through memo references
 * costs its size once); a text over {@link MAX_KEY_TEXT} characters, nesting over {@link MAX_KEY_NESTING}
 * or a tuple inside itself throws (before any exponential expansion: every level adds characters).
 */
function dictKey(k: unknown, cache: Map<unknown[], string>): unknown {
  if (k === null || typeof k !== 'object') return k;
  if (!Array.isArray(k)) return k;
  const active = new Set<unknown[]>();
  const text = (t: unknown[], depth: number): string => {
    const known = cache.get(t);
    if (known !== undefined) return known;
    if (active.has(t)) throw new Error('a dict key (tuple) contains itself');
    if (depth > MAX_KEY_NESTING) throw new Error(`a dict key (tuple) is nested more than ${MAX_KEY_NESTING} deep`);
    active.add(t);
    let s = '(';
    for (let i = 0; i < t.length; i++) {
      const x = t[i];
      s += (i ? ', ' : '') + (Array.isArray(x) ? text(x, depth + 1) : String(x));
      if (s.length > MAX_KEY_TEXT) throw new Error(`a dict key (tuple) is longer than ${MAX_KEY_TEXT} characters`);
    }
    s += ')';
    active.delete(t);
    cache.set(t, s);
    return s;
  };
  return text(k, 0);
}

/**
 * Work units of a call's arguments, two levels deep (what an implementation may iterate): 1 per value plus
 * the length of strings, bytes, lists and dicts.
 */
function argumentCost(v: unknown, level: number): number {
  if (typeof v === 'string' || v instanceof Uint8Array) return 1 + v.length;
  if (v instanceof Map) return 1 + v.size;
  if (!Array.isArray(v)) return 1;
  if (level === 0) return 1 + v.length;
  let c = 1;
  for (const x of v) c += argumentCost(x, level - 1);
  return c;
}

/**
 * Interprets a pickle and returns the unpickled root value. Throws {@link WeightsFormatError} on a
 * disallowed global, an unsupported opcode, or a malformed / truncated stream.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const file = options.name ?? '<pickle>';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const opaque = new Set(options.opaqueGlobals ?? []);
  const decoder = new TextDecoder('utf-8');
  let pos = 0;
  let opStart = 0;
  let op = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const keyCache = new Map<unknown[], string>();
  const context: PickleContext = { dictKey: (k) => dictKey(k, keyCache) };
  // Calls may iterate their arguments, which memo references can share without limit: bound the total.
  const workLimit = 16 * bytes.length + (1 << 16);
  let work = 0;

  const fail = (msg: string): never => {
    throw new WeightsFormatError(file, `pickle: ${msg} (opcode ${OPCODE_NAMES[op] ?? `0x${op.toString(16)}`} at byte ${opStart})`);
  };
  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) fail(`truncated: needs ${n} more bytes, ${bytes.length - pos} left`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail('MARK missing');
    stack = prev!;
    return items;
  };
  // `stack.push(popMark())` would push onto the discarded inner stack (the receiver is read before the call).
  const pushItems = (items: unknown[]): void => {
    stack.push(items);
  };
  const readLine = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: unterminated line');
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const u64 = (at: number): number => {
    const v = dv.getBigUint64(at, true);
    if (v > BigInt(bytes.length)) fail(`length ${v} exceeds the pickle size`);
    return Number(v);
  };
  const utf8 = (n: number): string => {
    const at = need(n);
    return decoder.decode(bytes.subarray(at, at + n));
  };
  const rawBytes = (n: number): Uint8Array => {
    const at = need(n);
    return bytes.slice(at, at + n);
  };
  const latin1 = (n: number): string => {
    const at = need(n);
    let s = '';
    for (let i = at; i < at + n; i++) s += String.fromCharCode(bytes[i]!);
    return s;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    const spec = Object.prototype.hasOwnProperty.call(options.globals, q) ? options.globals[q] : undefined;
    if (spec) return new PyGlobal(module, name, spec);
    if (opaque.has(q)) {
      const make = (args: unknown[]): PyObject => new PyObject(q, args);
      return new PyGlobal(module, name, { call: make, create: make });
    }
    return fail(`global '${q}' is not allowed${options.disallowedHint ? `; ${options.disallowedHint}` : ''}`);
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) fail(`SETITEM(S) on a ${describe(dict)}, not a dict`);
    if (items.length % 2) fail('odd number of items for SETITEMS');
    for (let i = 0; i < items.length; i += 2) (dict as Map<unknown, unknown>).set(dictKey(items[i], keyCache), items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) fail(`APPEND(S) on a ${describe(list)}, not a list`);
    for (const x of items) (list as unknown[]).push(x);
  };
  const callGlobal = (fn: unknown, args: unknown, create: boolean): unknown => {
    if (!(fn instanceof PyGlobal)) return fail(`cannot call a ${describe(fn)}`);
    if (!Array.isArray(args)) return fail(`arguments of ${fn.qualname} are a ${describe(args)}, not a tuple`);
    const impl = create ? (fn.spec.create ?? fn.spec.call) : fn.spec.call;
    if (!impl) return fail(`global '${fn.qualname}' is allowed only as a value, not ${create ? 'instantiated' : 'called'}`);
    work += argumentCost(args, 2);
    if (work > workLimit) {
      fail(`calls such as ${fn.qualname} get more than ${workLimit} units of arguments in all for a ${bytes.length}-byte pickle (arguments shared through memo references?)`);
    }
    try {
      return impl(args, context);
    } catch (err) {
      if (err instanceof WeightsFormatError) throw err;
      return fail(`${fn.qualname}: ${(err as Error).message}`);
    }
  };
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) return fail('persistent ids are not supported here');
    try {
      return options.persistentLoad(pid);
    } catch (err) {
      if (err instanceof WeightsFormatError) throw err;
      return fail((err as Error).message);
    }
  };

  try {
    return run();
  } catch (err) {
    if (err instanceof WeightsFormatError) throw err;
    return fail(`malformed pickle: ${(err as Error).message}`); // e.g. a structure nested too deeply
  }

  function run(): unknown {
    for (;;) {
      opStart = pos;
      op = bytes[need(1)]!;
      switch (op) {
        case 0x80: // PROTO
          if (bytes[need(1)]! > 5) fail(`protocol ${bytes[pos - 1]} is newer than 5`);
          break;
        case 0x95: // FRAME
          need(8);
          break;
        case 0x2e: // STOP
          if (stack.length !== 1 || metastack.length) fail(`stack holds ${stack.length} values at STOP`);
          return stack[0];
        case 0x28: // MARK
          metastack.push(stack);
          stack = [];
          break;
        case 0x30: // POP
          if (stack.length) stack.pop();
          else popMark();
          break;
        case 0x31: // POP_MARK
          popMark();
          break;
        case 0x32: // DUP
          stack.push(top());
          break;
        case 0x4e: // NONE
          stack.push(null);
          break;
        case 0x88: // NEWTRUE
          stack.push(true);
          break;
        case 0x89: // NEWFALSE
          stack.push(false);
          break;
        case 0x4a: // BININT
          stack.push(dv.getInt32(need(4), true));
          break;
        case 0x4b: // BININT1
          stack.push(bytes[need(1)]);
          break;
        case 0x4d: // BININT2
          stack.push(dv.getUint16(need(2), true));
          break;
        case 0x8a: // LONG1
        case 0x8b: {
          // LONG4
          const n = op === 0x8a ? bytes[need(1)]! : dv.getInt32(need(4), true);
          if (n > 1024) fail(`integer of ${n} bytes is too large`);
          const at = need(n);
          let v = 0n;
          for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
          if (n > 0 && bytes[at + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
          stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
          break;
        }
        case 0x49: {
          // INT (protocol 0; "01"/"00" are True/False)
          const s = readLine().trim();
          if (s === '01' || s === '00') stack.push(s === '01');
          else if (/^[-+]?\d+$/.test(s)) stack.push(Number.isSafeInteger(Number(s)) ? Number(s) : BigInt(s));
          else fail(`bad INT ${JSON.stringify(s)}`);
          break;
        }
        case 0x4c: {
          // LONG (protocol 0)
          const s = readLine().trim().replace(/L$/, '');
          if (!/^[-+]?\d+$/.test(s)) fail(`bad LONG ${JSON.stringify(s)}`);
          const v = BigInt(s);
          stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
          break;
        }
        case 0x47: // BINFLOAT (big-endian)
          stack.push(dv.getFloat64(need(8), false));
          break;
        case 0x46: {
          // FLOAT (protocol 0)
          const v = Number(readLine().trim());
          if (Number.isNaN(v)) fail('bad FLOAT');
          stack.push(v);
          break;
        }
        case 0x58: // BINUNICODE
          stack.push(utf8(dv.getUint32(need(4), true)));
          break;
        case 0x8c: // SHORT_BINUNICODE
          stack.push(utf8(bytes[need(1)]!));
          break;
        case 0x8d: // BINUNICODE8
          stack.push(utf8(u64(need(8))));
          break;
        case 0x54: // BINSTRING (Python 2 str; latin-1)
          stack.push(latin1(dv.getInt32(need(4), true)));
          break;
        case 0x55: // SHORT_BINSTRING
          stack.push(latin1(bytes[need(1)]!));
          break;
        case 0x42: // BINBYTES
          stack.push(rawBytes(dv.getUint32(need(4), true)));
          break;
        case 0x43: // SHORT_BINBYTES
          stack.push(rawBytes(bytes[need(1)]!));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          stack.push(rawBytes(u64(need(8))));
          break;
        case 0x29: // EMPTY_TUPLE
          stack.push([]);
          break;
        case 0x74: // TUPLE
          pushItems(popMark());
          break;
        case 0x85: // TUPLE1
          stack.push([pop()]);
          break;
        case 0x86: {
          // TUPLE2
          const b = pop();
          stack.push([pop(), b]);
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = pop();
          const b = pop();
          stack.push([pop(), b, c]);
          break;
        }
        case 0x5d: // EMPTY_LIST
          stack.push([]);
          break;
        case 0x6c: // LIST
          pushItems(popMark());
          break;
        case 0x61: {
          // APPEND
          const x = pop();
          appendItems(top(), [x]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = popMark();
          appendItems(top(), items);
          break;
        }
        case 0x7d: // EMPTY_DICT
          stack.push(new Map());
          break;
        case 0x64: {
          // DICT
          const d = new Map();
          setItems(d, popMark());
          stack.push(d);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = pop();
          const k = pop();
          setItems(top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = popMark();
          setItems(top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET (kept as an array)
          stack.push([]);
          break;
        case 0x90: {
          // ADDITEMS
          const items = popMark();
          appendItems(top(), items);
          break;
        }
        case 0x91: // FROZENSET
          pushItems(popMark());
          break;
        case 0x71: // BINPUT
          memo.set(bytes[need(1)]!, top());
          break;
        case 0x72: // LONG_BINPUT
          memo.set(dv.getUint32(need(4), true), top());
          break;
        case 0x70: {
          // PUT
          const i = Number(readLine());
          if (!Number.isSafeInteger(i)) fail('bad PUT index');
          memo.set(i, top());
          break;
        }
        case 0x94: // MEMOIZE
          memo.set(memo.size, top());
          break;
        case 0x68: // BINGET
        case 0x6a: // LONG_BINGET
        case 0x67: {
          // GET
          const i = op === 0x68 ? bytes[need(1)]! : op === 0x6a ? dv.getUint32(need(4), true) : Number(readLine());
          if (!memo.has(i)) fail(`memo entry ${i} is undefined`);
          stack.push(memo.get(i));
          break;
        }
        case 0x63: {
          // GLOBAL "module\nname\n"
          const module = readLine();
          const name = readLine();
          stack.push(resolveGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
          stack.push(resolveGlobal(module as string, name as string));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = pop();
          const fn = pop();
          stack.push(callGlobal(fn, args, false));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = pop();
          const cls = pop();
          stack.push(callGlobal(cls, args, true));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = pop();
          const args = pop();
          const cls = pop();
          if (!(kwargs instanceof Map) || kwargs.size) fail('keyword arguments are not supported');
          stack.push(callGlobal(cls, args, true));
          break;
        }
        case 0x62: {
          // BUILD
          const state = pop();
          const obj = top();
          if (obj instanceof PyObject) obj.state = state;
          else if (obj instanceof Map) {
            // An OrderedDict's instance attributes (a state_dict's `_metadata`): not needed, dropped.
          } else if (obj !== null && typeof obj === 'object' && PICKLE_SETSTATE in obj) (obj as Settable)[PICKLE_SETSTATE](state);
          else fail(`cannot BUILD (set state on) a ${describe(obj)}`);
          break;
        }
        case 0x51: // BINPERSID
          stack.push(persistent(pop()));
          break;
        case 0x50: // PERSID
          stack.push(persistent(readLine()));
          break;
        default:
          fail(`unsupported opcode${OPCODE_NAMES[op] ? '' : ` 0x${op.toString(16)}`}`);
      }
    }
  }
}

/** A short description of a value's kind, for errors. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyGlobal) return `global ${v.qualname}`;
  if (v instanceof PyObject) return `${v.cls} object`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
