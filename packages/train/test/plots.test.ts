import { describe, expect, it } from 'vitest';

import { escapeXml, svgHeatmap, svgLineChart } from '../src/report/plots.js';

/** A strict-enough XML well-formedness check: balanced tags, quoted attributes, escaped text. */
function assertWellFormed(svg: string): void {
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(svg))) {
    const between = svg.slice(last, m.index);
    expect(between).not.toMatch(/[<>]/);
    expect(between.replace(/&(amp|lt|gt|quot|apos);/g, '')).not.toContain('&');
    last = re.lastIndex;
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
}

describe('SVG plots', () => {
  it('line chart: well-formed, one polyline per series, escaped labels, legend', () => {
    const svg = svgLineChart({
      title: 'Top-1 <vs> tokens & "budgets"',
      xLabel: 'tokens',
      yLabel: 'top-1 (%)',
      xLog2: true,
      yRange: [0, 100],
      series: [
        { name: 'baseline', points: [[16, 20], [32, 40], [64, 70], [128, 90]] },
        { name: 'flux-multi', points: [[16, 80], [32, 88], [64, 91], [128, 92]], dashed: true },
        { name: 'empty', points: [] },
      ],
      reference: { y: 12.5, label: 'chance' },
    });
    assertWellFormed(svg);
    expect(svg.match(/<polyline/g)?.length).toBe(2);
    expect(svg).toContain('Top-1 &lt;vs&gt; tokens &amp; &quot;budgets&quot;');
    expect(svg).toContain('>flux-multi<');
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('line chart survives a single point and non-finite values', () => {
    const svg = svgLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[1, 1], [2, Number.NaN]] }] });
    assertWellFormed(svg);
    expect(svg).not.toMatch(/NaN/);
  });

  it('heatmap: a cell per value, empty cells marked, values printed', () => {
    const svg = svgHeatmap({
      title: 'acc at K=32',
      rows: ['F = 4', 'F = 8'],
      cols: ['R = 32', 'R = 64'],
      rowLabel: 'frames',
      colLabel: 'side',
      values: [
        [null, 50],
        [75.25, 100],
      ],
      range: [0, 100],
    });
    assertWellFormed(svg);
    expect(svg.match(/<rect /g)?.length).toBe(5); // background + 4 cells
    expect(svg).toContain('>75.3<');
    expect(svg).toContain('>–<');
  });

  it('escapes XML', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});

describe('training curves from metrics.jsonl', () => {
  it('validation top-1 vs step per run; null when a run validated only once', async () => {
    const { valChart, lossChart } = await import('../src/report/report.js');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const os = await import('node:os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flux-curves-'));
    const lines = [
      { step: 1, loss: 2.1, ce: [2.1] },
      { step: 2, loss: 1.9, ce: [1.9] },
      { step: 2, event: 'val', top1: 0.25, top5: 0.8 },
      { step: 4, event: 'val', top1: 0.625, top5: 1 },
    ];
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const svg = valChart([{ name: 'flux-run', dir }], 0.125)!;
    expect(svg).toContain('flux-run');
    expect(svg).toContain('chance');
    expect(svg).toMatch(/<polyline[^>]*points="[^"]+ [^"]+"/); // two points
    expect(lossChart([{ name: 'flux-run', dir }])).toContain('<polyline');
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.slice(0, 3).map((l) => JSON.stringify(l)).join('\n') + '\n');
    expect(valChart([{ name: 'flux-run', dir }])).toBeNull();
  });
});
