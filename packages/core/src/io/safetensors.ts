/**
 * safetensors files (https://github.com/huggingface/safetensors) on the file system. The format itself (header
 * validation, parsing and serializing bytes) is in safetensors-format.ts, which the browser entry shares.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

import { atomicWriteFile, atomicWriteFileSync } from '../run/atomic.js';
import { SAFETENSORS_MAX_HEADER, parseSafetensors, parseSafetensorsHeader, serializeSafetensors, type SafetensorsFile, type SafetensorsHeader, type TensorsInput } from './safetensors-format.js';

export * from './safetensors-format.js';

/** Reads a safetensors file (the whole file; tensor data views the file buffer where aligned). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await fsp.readFile(path), { name: path, copy: false });
}

/** Synchronous {@link readSafetensors}. */
export function readSafetensorsSync(path: string): SafetensorsFile {
  return parseSafetensors(fs.readFileSync(path), { name: path, copy: false });
}

/** Reads and validates only the header of a safetensors file (names, dtypes, shapes, metadata). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const first = Buffer.alloc(Math.min(8, size));
    fs.readSync(fd, first, 0, first.length, 0);
    if (first.length < 8) return parseSafetensorsHeader(first, size, path);
    const n = first.readBigUInt64LE(0);
    const want = n > BigInt(SAFETENSORS_MAX_HEADER) || 8n + n > BigInt(size) ? 8 : 8 + Number(n);
    const head = Buffer.alloc(want);
    fs.readSync(fd, head, 0, want, 0);
    return parseSafetensorsHeader(head, size, path);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a safetensors file atomically (temp file, fsync, rename). See {@link serializeSafetensors}. */
export async function writeSafetensors(path: string, tensors: TensorsInput, metadata?: Record<string, string>): Promise<void> {
  await atomicWriteFile(path, serializeSafetensors(tensors, metadata));
}

/** Synchronous {@link writeSafetensors}. */
export function writeSafetensorsSync(path: string, tensors: TensorsInput, metadata?: Record<string, string>): void {
  atomicWriteFileSync(path, serializeSafetensors(tensors, metadata));
}
