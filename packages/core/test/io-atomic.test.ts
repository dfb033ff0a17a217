import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { atomicWriteFile, atomicWriteFileSync } from '../src/io/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-io-atomic-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('atomicWriteFile', () => {
  it('replaces the file and leaves no temporary behind', async () => {
    const p = path.join(tmp, 'a.bin');
    fs.writeFileSync(p, 'old');
    await atomicWriteFile(p, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(p)]).toEqual([1, 2, 3]);
    atomicWriteFileSync(p, 'text');
    expect(fs.readFileSync(p, 'utf8')).toBe('text');
    expect(fs.readdirSync(tmp)).toEqual(['a.bin']);
  });

  it('handles concurrent writes to the same path', async () => {
    const p = path.join(tmp, 'c.bin');
    await Promise.all(Array.from({ length: 8 }, (_, i) => atomicWriteFile(p, `v${i}`)));
    expect(fs.readFileSync(p, 'utf8')).toMatch(/^v\d$/);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('leaves the old file untouched and cleans up when the rename fails', async () => {
    const dir = path.join(tmp, 'is-a-dir');
    fs.mkdirSync(path.join(dir, 'child'), { recursive: true });
    await expect(atomicWriteFile(dir, 'x')).rejects.toThrow();
    expect(() => atomicWriteFileSync(dir, 'x')).toThrow();
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await expect(atomicWriteFile(path.join(tmp, 'missing', 'x.bin'), 'x')).rejects.toThrow(/ENOENT/);
  });
});
