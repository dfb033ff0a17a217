/**
 * Atomic file writes: readers see either the old file or the complete new one, never a partial write,
 * even if the process dies midway.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

let seq = 0;

/** `<file>.tmp-<pid>-<n>`: unique per process and per call, so concurrent writes never share a temp file. */
function tmpPath(file: string): string {
  return `${file}.tmp-${process.pid}-${seq++}`;
}

/** Best-effort fsync of the directory holding `file`, so the rename itself survives a crash. */
function syncDirSync(file: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path.dirname(path.resolve(file)), 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms/filesystems cannot open or fsync a directory; the data itself is already synced.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes `data` to `file` atomically: writes `<file>.tmp-<pid>-<n>`, fsyncs it, renames it over `file`, then
 * fsyncs the directory. On failure the temporary file is removed and `file` is left untouched.
 */
export async function atomicWriteFile(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = tmpPath(file);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'w');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, file);
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  syncDirSync(file);
}

/** Synchronous {@link atomicWriteFile}. */
export function atomicWriteFileSync(file: string, data: Uint8Array | string): void {
  const tmp = tmpPath(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirSync(file);
}
