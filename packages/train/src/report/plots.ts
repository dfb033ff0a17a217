/**
 * Plots as hand-written SVG: no fonts, canvas or native dependencies. Text uses the generic `sans-serif`
 * family, so any viewer renders it with whatever font it has.
 */

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/\.?0+$/, '');
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

export interface LineSeries {
  name: string;
  points: [number, number][];
  /** Dashed line (e.g. a second metric of the same model). */
  dashed?: boolean;
  /** Error bar half-heights (same units as y), one per point in `points` order — e.g. the std over seeds. */
  errors?: number[];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Log-2 x axis (token counts). */
  xLog2?: boolean;
  /** y range (default from the data; accuracy charts pass [0, 100]). */
  yRange?: [number, number];
  /** Tick values of the x axis (default: every distinct x). */
  xTicks?: number[];
  width?: number;
  height?: number;
  /** Horizontal reference line (e.g. chance accuracy) with a label. */
  reference?: { y: number; label: string };
}

/** A line chart: one polyline + markers per series, axes with ticks, a legend. */
export function svgLineChart(o: LineChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 400;
  const m = { l: 60, r: 170, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x: number) => (o.xLog2 ? Math.log2(Math.max(x, 1e-9)) : x);
  const xs = all.map(([x]) => tx(x));
  let xlo = xs.length ? Math.min(...xs) : 0;
  let xhi = xs.length ? Math.max(...xs) : 1;
  if (xhi === xlo) {
    xlo -= 1;
    xhi += 1;
  }
  const ys = all.map(([, y]) => y);
  let [ylo, yhi] = o.yRange ?? [ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1];
  if (yhi === ylo) {
    ylo -= 1;
    yhi += 1;
  }
  const px = (x: number) => m.l + ((tx(x) - xlo) / (xhi - xlo)) * pw;
  const py = (y: number) => m.t + ph - ((y - ylo) / (yhi - ylo)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2 - m.r / 2 + m.l / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`);
  // grid + ticks
  for (const t of niceTicks(ylo, yhi)) {
    const y = py(t).toFixed(1);
    parts.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  const xTicks = o.xTicks ?? [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  for (const t of xTicks) {
    const x = px(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x}" y="${m.t + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  parts.push(`<text x="16" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.t + ph / 2})">${escapeXml(o.yLabel)}</text>`);
  if (o.reference && o.reference.y >= ylo && o.reference.y <= yhi) {
    const y = py(o.reference.y).toFixed(1);
    parts.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#999" stroke-dasharray="2 3"/>`);
    parts.push(`<text x="${m.l + 4}" y="${Number(y) - 4}" fill="#777">${escapeXml(o.reference.label)}</text>`);
  }
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    if (s.errors) {
      s.points.forEach(([x, y], j) => {
        const e = s.errors![j];
        if (!(e !== undefined && e > 0 && Number.isFinite(x) && Number.isFinite(y))) return;
        const cx = px(x).toFixed(1);
        parts.push(`<line x1="${cx}" y1="${py(y - e).toFixed(1)}" x2="${cx}" y2="${py(y + e).toFixed(1)}" stroke="${color}" stroke-width="1.5"/>`);
        for (const yy of [y - e, y + e]) parts.push(`<line x1="${(px(x) - 4).toFixed(1)}" y1="${py(yy).toFixed(1)}" x2="${(px(x) + 4).toFixed(1)}" y2="${py(yy).toFixed(1)}" stroke="${color}" stroke-width="1.5"/>`);
      });
    }
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).sort((a, b) => a[0] - b[0]);
    if (pts.length) {
      const d = pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`);
      for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const ly = m.t + 10 + i * 20;
    parts.push(`<line x1="${m.l + pw + 12}" y1="${ly}" x2="${m.l + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${m.l + pw + 42}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export interface HeatmapOptions {
  title: string;
  /** Row labels (top to bottom) and column labels (left to right). */
  rows: string[];
  cols: string[];
  rowLabel: string;
  colLabel: string;
  /** values[r][c]; null for an empty cell (e.g. a grid with fewer tokens than K). */
  values: (number | null)[][];
  /** Colour scale range (default: data range). */
  range?: [number, number];
  /** Cell text formatter. */
  format?: (v: number) => string;
  cell?: number;
}

function colorFor(t: number): string {
  // white → blue, readable black/white text chosen by the caller
  const c = Math.max(0, Math.min(1, t));
  const r = Math.round(247 - c * (247 - 8));
  const g = Math.round(251 - c * (251 - 69));
  const b = Math.round(255 - c * (255 - 148));
  return `rgb(${r},${g},${b})`;
}

/** A heatmap with the value written in each cell. */
export function svgHeatmap(o: HeatmapOptions): string {
  const cell = o.cell ?? 64;
  const m = { l: 90, t: 50, r: 20, b: 50 };
  const W = m.l + o.cols.length * cell + m.r;
  const H = m.t + o.rows.length * cell + m.b;
  const vals = o.values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const [lo, hi] = o.range ?? [vals.length ? Math.min(...vals) : 0, vals.length ? Math.max(...vals) : 1];
  const f = o.format ?? ((v: number) => v.toFixed(1));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`);
  o.rows.forEach((rl, r) => {
    parts.push(`<text x="${m.l - 8}" y="${m.t + r * cell + cell / 2}" text-anchor="end" dominant-baseline="middle">${escapeXml(rl)}</text>`);
    o.cols.forEach((_, c) => {
      const v = o.values[r]?.[c] ?? null;
      const x = m.l + c * cell;
      const y = m.t + r * cell;
      if (v === null || !Number.isFinite(v)) {
        parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="#f4f4f4" stroke="#fff"/>`);
        parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2}" text-anchor="middle" dominant-baseline="middle" fill="#aaa">–</text>`);
      } else {
        const t = hi > lo ? (v - lo) / (hi - lo) : 1;
        parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${colorFor(t)}" stroke="#fff"/>`);
        parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2}" text-anchor="middle" dominant-baseline="middle" fill="${t > 0.55 ? '#fff' : '#000'}">${escapeXml(f(v))}</text>`);
      }
    });
  });
  o.cols.forEach((cl, c) => parts.push(`<text x="${m.l + c * cell + cell / 2}" y="${m.t + o.rows.length * cell + 16}" text-anchor="middle">${escapeXml(cl)}</text>`));
  parts.push(`<text x="${m.l + (o.cols.length * cell) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(o.colLabel)}</text>`);
  parts.push(`<text x="14" y="${m.t + (o.rows.length * cell) / 2}" text-anchor="middle" transform="rotate(-90 14 ${m.t + (o.rows.length * cell) / 2})">${escapeXml(o.rowLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
