// pnpm 10 and npm 11 skip the install scripts that chmod the bundled binaries: a 644 ffprobe must still run.
import { copyFileSync, chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureExecutable, resolveTool, runTool, VideoToolError } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'flux-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a binary left without execute bits', () => {
  const copy = join(dir, 'ffprobe');
  copyFileSync(resolveTool('ffprobe').path === 'ffprobe' ? '/usr/bin/ffprobe' : resolveTool('ffprobe').path, copy);
  chmodSync(copy, 0o644);

  it('fails to run with an error that names the chmod fix', async () => {
    const p = runTool('ffprobe', ['-version'], { ffprobePath: copy });
    await expect(p).rejects.toBeInstanceOf(VideoToolError);
    await expect(p).rejects.toThrow(new RegExp(`EACCES.*fix it with: chmod \\+x "${copy}"`));
  });

  it('is made executable (where readable) by ensureExecutable, and then runs', async () => {
    expect(ensureExecutable(copy)).toBe(true);
    expect(statSync(copy).mode & 0o777).toBe(0o755);
    const r = await runTool('ffprobe', ['-version'], { ffprobePath: copy });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^ffprobe version/);
  });

  it('reports false for a file it cannot make executable', () => {
    expect(ensureExecutable(join(dir, 'missing'))).toBe(false);
  });
});
