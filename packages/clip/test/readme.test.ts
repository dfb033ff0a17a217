/** The README's example runs verbatim (against src/) and prints what its comments say. */
import fs from 'node:fs';
import { format } from 'node:util';

import { afterAll, expect, it, vi } from 'vitest';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const example = /```js\n([\s\S]*?)```/.exec(readme)![1]!;
const tmp = new URL('./.readme-example.tmp.mjs', import.meta.url);

afterAll(() => fs.rmSync(tmp, { force: true }));

it('the README example runs and prints the commented values', async () => {
  expect(example).toContain("from '@flux/clip'");
  fs.writeFileSync(tmp, example.replace("from '@flux/clip'", `from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)}`));
  const printed: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(format(...args)));
  try {
    await import(tmp.href);
  } finally {
    spy.mockRestore();
  }
  const expected = example
    .split('\n')
    .filter((l) => l.startsWith('console.log('))
    .map((l) => /\/\/ (.*)$/.exec(l)![1]!);
  expect(expected.length).toBe(3);
  expect(printed.length).toBe(expected.length);
  printed.forEach((p, i) => expect(expected[i]!.startsWith(p), `printed "${p}", the README says "${expected[i]}"`).toBe(true));
});
