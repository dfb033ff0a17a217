import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { MetricsLogger, Progress, RunDirError, formatDuration, openRunDir, readMetrics, verifyFolder } from '../src/run/index.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-run-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(root, `run-${n++}`);

describe('openRunDir', () => {
  it('creates a run, refuses to start over it, resumes it, and refuses to resume nothing', () => {
    const dir = fresh();
    expect(() => openRunDir(dir, { resume: true })).toThrow(/holds no run/);
    const run = openRunDir(dir);
    run.writeConfig({ lr: 1e-3, steps: 10 });
    expect(() => openRunDir(dir)).toThrow(RunDirError);
    const again = openRunDir(dir, { resume: true });
    expect(again.readConfig()).toEqual({ lr: 1e-3, steps: 10 });
    expect(() => again.writeConfig({ lr: 2e-3, steps: 10 })).toThrow(/lr \(stored 0.001, given 0.002\)/);
    expect(() => again.writeConfig({ lr: 2e-3, steps: 10 }, ['steps'])).not.toThrow();
    const over = openRunDir(dir, { failIfExists: false });
    expect(fs.existsSync(over.path('config.json'))).toBe(false);
  });

  it('saves checkpoints atomically, points latest at the newest, prunes beyond keep', async () => {
    const run = openRunDir(fresh(), { keep: 2 });
    expect(run.latestCheckpoint()).toBeNull();
    for (const step of [10, 20, 30]) await run.saveCheckpoint(step, { 'model.safetensors': new Uint8Array([step]), 'state.json': `{"step":${step}}` });
    const latest = run.latestCheckpoint()!;
    expect(latest.step).toBe(30);
    expect(fs.readFileSync(path.join(latest.path, 'state.json'), 'utf8')).toBe('{"step":30}');
    expect(run.listCheckpoints().map((c) => c.step)).toEqual([20, 30]);
    expect(fs.readdirSync(run.checkpointsDir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('a failed checkpoint write leaves the previous checkpoint and pointer intact', async () => {
    const run = openRunDir(fresh());
    await run.saveCheckpoint(5, { 'a.bin': new Uint8Array([1, 2, 3]) });
    await expect(run.saveCheckpoint(6, { 'a.bin': new Uint8Array([9]), '../escape': 'x' })).rejects.toThrow(/bad checkpoint file name/);
    expect(run.latestCheckpoint()!.step).toBe(5);
    expect([...fs.readFileSync(path.join(run.checkpointPath(5), 'a.bin'))]).toEqual([1, 2, 3]);
    expect(fs.existsSync(run.checkpointPath(6))).toBe(false);
  });

  it('falls back to the folders when latest.json is missing', async () => {
    const run = openRunDir(fresh());
    await run.saveCheckpoint(1, { x: 'a' });
    await run.saveCheckpoint(2, { x: 'b' });
    fs.rmSync(path.join(run.checkpointsDir, 'latest.json'));
    expect(run.latestCheckpoint()!.step).toBe(2);
  });

  it('reports a full disk (ENOSPC) by name', async () => {
    const run = openRunDir(fresh());
    const big = new Uint8Array(1024);
    // /dev/full makes every write fail with ENOSPC; use it through a symlinked checkpoints folder file.
    if (!fs.existsSync('/dev/full')) return;
    const orig = fs.promises.open;
    (fs.promises as { open: unknown }).open = async () => orig('/dev/full', 'w');
    try {
      await expect(run.saveCheckpoint(1, { big })).rejects.toThrow(/disk is full/);
    } finally {
      (fs.promises as { open: unknown }).open = orig;
    }
  });
});

describe('checkpoint integrity and crash leftovers', () => {
  it('every checkpoint carries sha256 checksums; a flipped byte is detected and resume falls back to the newest intact one', async () => {
    const run = openRunDir(fresh(), { keep: 0 });
    for (const step of [2, 4, 6]) await run.saveCheckpoint(step, { 'model.bin': new Uint8Array([step, 1, 2, 3]), 'state.json': `{"step":${step}}` });
    const [c2, c4, c6] = run.listCheckpoints();
    const rec = JSON.parse(fs.readFileSync(path.join(c6!.path, 'checksums.json'), 'utf8'));
    expect(rec.algorithm).toBe('sha256');
    expect(Object.keys(rec.files).sort()).toEqual(['model.bin', 'state.json']);
    expect(run.verifyCheckpoint(c6!)).toEqual({ ok: true });
    // Flip one byte of the newest checkpoint's tensor data, and truncate the one before.
    const f6 = path.join(c6!.path, 'model.bin');
    const bytes = fs.readFileSync(f6);
    bytes[1] ^= 0x40;
    fs.writeFileSync(f6, bytes);
    fs.writeFileSync(path.join(c4!.path, 'state.json'), '{"st');
    const skipped: string[] = [];
    const ok = run.latestIntactCheckpoint((ref, why) => skipped.push(`${ref.step}: ${why}`));
    expect(ok?.step).toBe(2);
    expect(skipped).toHaveLength(2);
    expect(skipped[0]).toMatch(/^6: .*model\.bin does not match its checksum/);
    expect(skipped[1]).toMatch(/^4: .*state\.json does not match its checksum/);
    fs.rmSync(path.join(c2!.path, 'checksums.json'));
    expect(verifyFolder(c2!.path).problem).toMatch(/checksums\.json is missing/);
    expect(run.latestIntactCheckpoint()).toBeNull();
    await expect(run.saveCheckpoint(8, { 'checksums.json': 'x' })).rejects.toThrow(/bad checkpoint file name/);
  });

  it('opening a run removes the temporaries of dead processes (a kill -9 mid-checkpoint) and keeps live ones', async () => {
    const dir = fresh();
    const run = openRunDir(dir);
    await run.saveCheckpoint(2, { 'a.bin': 'x' });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    expect(Number(dead)).toBeGreaterThan(0);
    const leftovers = [path.join(dir, 'checkpoints', `step-000004.tmp-${dead}`), path.join(dir, `metrics.jsonl.tmp-${dead}-3`), path.join(dir, 'checkpoints', `latest.json.tmp-${dead}-7`), path.join(dir, `best.old-${dead}`)];
    fs.mkdirSync(leftovers[0]!);
    fs.writeFileSync(path.join(leftovers[0]!, 'model.safetensors'), 'partial');
    for (const f of leftovers.slice(1, 3)) fs.writeFileSync(f, 'partial');
    fs.mkdirSync(leftovers[3]!);
    const live = path.join(dir, `model.safetensors.tmp-${process.pid}-0`);
    fs.writeFileSync(live, 'being written by us');
    const again = openRunDir(dir, { resume: true });
    expect(again.removedTemps.sort()).toEqual(leftovers.sort());
    for (const f of leftovers) expect(fs.existsSync(f)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(again.latestCheckpoint()?.step).toBe(2);
  });
});

describe('MetricsLogger', () => {
  it('appends JSON lines, keeps non-finite numbers readable, truncates after a step on resume', () => {
    const file = path.join(fresh(), 'metrics.jsonl');
    const log = new MetricsLogger(file);
    log.log({ step: 1, loss: 2.5 });
    log.log({ step: 2, loss: Number.NaN });
    log.log({ step: 3, loss: 1.5 });
    const rows = readMetrics(file);
    expect(rows.map((r) => r.loss)).toEqual([2.5, 'NaN', 1.5]);
    expect(typeof rows[0]!.time).toBe('string');
    log.truncateAfter(2);
    expect(readMetrics(file).map((r) => r.step)).toEqual([1, 2]);
  });

  it('ignores a torn last line but not a bad middle line', () => {
    const file = path.join(fresh(), 'm.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"step":1}\n{"step":2}\n{"ste');
    expect(readMetrics(file)).toHaveLength(2);
    fs.writeFileSync(file, '{"step":1}\nnot json\n{"step":2}\n');
    expect(() => readMetrics(file)).toThrow(/m.jsonl:2/);
  });
});

function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 200 });
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

describe('Progress', () => {
  it('is quiet off a TTY: about one line per tenth, plus the end', () => {
    const { stream, text } = capture(false);
    let t = 0;
    const p = new Progress({ total: 100, label: 'train', stream, now: () => t });
    for (let s = 1; s <= 100; s++) {
      t += 500;
      p.update(s, { loss: 1 / s });
    }
    p.done();
    const lines = text().trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(lines.at(-1)).toMatch(/^train {2}100\/100 {2}loss 0\.0100 {2}0\.5000 s\/step {2}elapsed 50s$/);
    expect(text()).not.toContain('\r');
  });

  it('redraws one line with a bar and an ETA on a TTY', () => {
    const { stream, text } = capture(true);
    let t = 0;
    const p = new Progress({ total: 4, stream, now: () => t });
    t = 2000;
    p.update(1);
    expect(text()).toMatch(/^\r\[#{5}\.{15}\] 1\/4 .*ETA 6s/);
    p.done();
    expect(text().endsWith('\n')).toBe(true);
  });

  it('prints nothing when quiet and formats durations', () => {
    const { stream, text } = capture(true);
    const p = new Progress({ total: 3, stream, quiet: true });
    p.update(3);
    p.done();
    expect(text()).toBe('');
    expect([formatDuration(5), formatDuration(65), formatDuration(3700), formatDuration(Number.NaN)]).toEqual(['5s', '1m05s', '1h01m', '?']);
  });
});
