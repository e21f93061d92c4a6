/**
 * Pure helpers of the panel (no DOM, no JupyterLab): formatting of metrics
 * with their intervals, badges, client-side form checks and sparkline
 * geometry. Unit-tested with node's test runner.
 */

/** A metric as the registry stores it: a number, or a value with an interval. */
export interface IMetric {
  value: number | null;
  low: number | null;
  high: number | null;
}

function num(x: unknown): number | null {
  return typeof x === 'number' && isFinite(x) ? x : null;
}

/** Read the shapes a metric may take: 0.9, {value, ci: [lo, hi]}, {value, low, high}, {estimate, lower, upper}. */
export function readMetric(raw: unknown): IMetric {
  if (typeof raw === 'number') {
    return { value: num(raw), low: null, high: null };
  }
  if (raw && typeof raw === 'object') {
    const r = raw as Record<string, any>;
    const value = num(r.value ?? r.estimate ?? r.point);
    let low = num(r.low ?? r.lower ?? r.ci_low);
    let high = num(r.high ?? r.upper ?? r.ci_high);
    const ci = r.ci ?? r.interval;
    if (Array.isArray(ci) && ci.length === 2) {
      low = num(ci[0]);
      high = num(ci[1]);
    }
    return { value, low, high };
  }
  return { value: null, low: null, high: null };
}

/** Compact number: 4 significant decimals, scientific for very large/small values. */
export function formatNumber(x: number | null, digits = 3): string {
  if (x === null) {
    return '–';
  }
  if (Number.isInteger(x) && Math.abs(x) < 1e6) {
    return String(x);
  }
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) {
    return x.toExponential(digits - 1);
  }
  return x.toFixed(digits);
}

/** "0.953 [0.931, 0.970]" */
export function formatMetric(raw: unknown): string {
  const m = readMetric(raw);
  const base = formatNumber(m.value);
  if (m.low !== null && m.high !== null) {
    return `${base} [${formatNumber(m.low)}, ${formatNumber(m.high)}]`;
  }
  return base;
}

/** The first `n` metrics of a version, by the order the registry gives them. */
export function keyMetrics(metrics: Record<string, unknown> | undefined, n = 2): [string, string][] {
  if (!metrics) {
    return [];
  }
  return Object.entries(metrics)
    .filter(([, v]) => readMetric(v).value !== null)
    .slice(0, n)
    .map(([k, v]) => [k, formatMetric(v)]);
}

/** Parse a whole number in [min, max]; returns an error sentence or the number. */
export function checkInteger(
  text: string,
  name: string,
  min: number,
  max: number
): { value?: number; error?: string } {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) {
    return { error: `${name} must be a whole number between ${min} and ${max}, got '${text}'.` };
  }
  const v = parseInt(t, 10);
  if (v < min || v > max) {
    return { error: `${name} must be between ${min} and ${max}, got ${v}.` };
  }
  return { value: v };
}

/** SVG polyline points for a sparkline of `values` in a width x height box. */
export function sparkline(values: number[], width = 120, height = 24): string {
  const finite = values.filter(v => isFinite(v));
  if (finite.length === 0) {
    return '';
  }
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const span = hi - lo || 1;
  const step = finite.length > 1 ? width / (finite.length - 1) : 0;
  return finite
    .map((v, i) => {
      const x = finite.length > 1 ? i * step : width / 2;
      const y = height - 2 - ((v - lo) / span) * (height - 4);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

/** Human-friendly age of a UNIX timestamp or ISO date. */
export function ago(when: number | string | null | undefined, now = Date.now()): string {
  if (when === null || when === undefined || when === '') {
    return '';
  }
  const t = typeof when === 'number' ? (when < 1e12 ? when * 1000 : when) : Date.parse(when);
  if (!isFinite(t)) {
    return String(when);
  }
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) {
    return `${s}s ago`;
  }
  if (s < 3600) {
    return `${Math.round(s / 60)}m ago`;
  }
  if (s < 86400) {
    return `${Math.round(s / 3600)}h ago`;
  }
  return `${Math.round(s / 86400)}d ago`;
}
