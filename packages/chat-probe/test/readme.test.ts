/** The README's examples run (against src/) and print what their comments say. */
import fs from 'node:fs';
import { format } from 'node:util';

import { beforeAll, expect, it, vi } from 'vitest';

import { STORIES, useBackend } from './helpers.js';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SRC = JSON.stringify(new URL('../src/index.ts', import.meta.url).href);

beforeAll(() => useBackend('cpu'));

async function runExample(code: string, name: string): Promise<string[]> {
  const file = new URL(`./.readme-${name}.tmp.mjs`, import.meta.url);
  fs.writeFileSync(file, code);
  const printed: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(format(...args)));
  try {
    await import(file.href);
  } finally {
    spy.mockRestore();
    fs.rmSync(file, { force: true });
  }
  return printed;
}

it('the tiny-model example runs verbatim and prints the commented values', async () => {
  const example = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
  expect(example).toContain("from '@flux/chat-probe'");
  const printed = await runExample(example.replace("from '@flux/chat-probe'", `from ${SRC}`), 'tiny');
  const expected = example
    .split('\n')
    .filter((l) => l.startsWith('console.log('))
    .map((l) => /\/\/ (.*)$/.exec(l)![1]!);
  expect(expected.length).toBe(2);
  expect(printed).toEqual(expected);
});

it('the load-and-generate example runs on the stories260K folder', async () => {
  const ts = /```ts(?: type-check)?\n([\s\S]*?)```/.exec(readme)![1]!; // type-check: the consumer test cannot pass it a model folder
  expect(ts).toContain('process.argv[2]');
  const code = ts
    .replace("from '@flux/chat-probe'", `from ${SRC}`)
    .replace('process.argv[2]', JSON.stringify(STORIES));
  const printed = await runExample(code, 'load');
  expect(printed.length).toBe(1);
  expect(printed[0]!.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
});
