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
/** The headline metrics of each task first (classification: ROC AUC, accuracy, F1; regression: R², MAE). */
export const HEADLINE_METRICS = [
  'roc_auc',
  'accuracy',
  'f1',
  'f1_macro',
  'balanced_accuracy',
  'r2',
  'mean_absolute_error',
  'root_mean_squared_error'
];

/** The `n` metrics that say most about a version: its task's headline metrics first, then the rest. */
export function keyMetrics(metrics: Record<string, unknown> | undefined, n = 2): [string, string][] {
  if (!metrics) {
    return [];
  }
  const rank = (k: string): number => {
    const i = HEADLINE_METRICS.indexOf(k);
    return i < 0 ? HEADLINE_METRICS.length : i;
  };
  return Object.entries(metrics)
    .filter(([, v]) => readMetric(v).value !== null)
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e[0]) - rank(b.e[0]) || a.i - b.i)
    .slice(0, n)
    .map(({ e: [k, v] }) => [k, formatMetric(v)]);
}

/** Parse a whole number in [min, max]; returns an error sentence or the number. */
export function checkInteger(text: string, name: string, min: number, max: number): { value?: number; error?: string } {
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

/** The verdict colours of the HTML reports (jupyter_modelops/_html.py), so the panel and a report agree. */
export const VERDICT_COLOURS = { pass: '#1a7f37', fail: '#cf222e', warn: '#9a6700' } as const;

export type Verdict = keyof typeof VERDICT_COLOURS;

/** One gate of a report run, ready to show: verdict, rule, observed value and interval, all formatted. */
export interface IGateView {
  name: string;
  verdict: Verdict;
  rule: string;
  observed: string;
  interval: string;
}

function verdictOf(status: unknown): Verdict {
  const s = String(status ?? '').toLowerCase();
  if (s === 'pass' || s === 'passed' || s === 'ok' || s === 'true') {
    return 'pass';
  }
  if (s === 'fail' || s === 'failed' || s === 'false' || s === 'error') {
    return 'fail';
  }
  return 'warn';
}

/** Read a gate as a report run records it: {name, status, metric, op, threshold, observed, low, high}. */
export function readGate(raw: unknown): IGateView {
  const g = (raw && typeof raw === 'object' ? raw : {}) as Record<string, any>;
  const threshold = num(g.threshold);
  const rule =
    g.metric && g.op && threshold !== null
      ? `${g.metric} ${g.op} ${String(Number(threshold.toPrecision(4)))}`
      : String(g.name ?? g.gate ?? 'gate');
  const low = num(g.low);
  const high = num(g.high);
  return {
    name: String(g.name ?? g.gate ?? rule),
    verdict: verdictOf(g.status ?? g.passed),
    rule,
    observed: formatNumber(num(g.observed ?? g.value)),
    interval: low !== null && high !== null ? `[${formatNumber(low)}, ${formatNumber(high)}]` : ''
  };
}

/** The verdict of a report run: it failed if the notebook failed or any gate failed, whatever the job says. */
export function reportVerdict(run: Record<string, any> | null | undefined): {
  verdict: Verdict;
  label: string;
  failed: number;
  total: number;
} {
  const r = run ?? {};
  const gates = (Array.isArray(r.gates) ? r.gates : []).map(readGate);
  const failed = gates.filter(g => g.verdict === 'fail').length;
  const total = gates.length;
  const status = String(r.status ?? '');
  if (status && status !== 'succeeded') {
    return { verdict: status === 'running' || status === 'queued' ? 'warn' : 'fail', label: status, failed, total };
  }
  if (failed > 0 || r.gates_passed === false) {
    return { verdict: 'fail', label: `gates failed (${failed || '?'} of ${total || '?'})`, failed, total };
  }
  return {
    verdict: 'pass',
    label: total ? `passed (${total} gate${total === 1 ? '' : 's'})` : 'ran (no gates)',
    failed,
    total
  };
}

/** Readable text of any value: numbers formatted (0.0556, not 0.05555555555555555), objects as "k v, ...". */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) {
    return '–';
  }
  if (typeof v === 'number') {
    return formatNumber(num(v));
  }
  if (Array.isArray(v)) {
    return v.map(showValue).join(', ');
  }
  if (typeof v === 'object') {
    const m = readMetric(v);
    const keys = Object.keys(v as object);
    if (
      m.value !== null &&
      keys.every(k => ['value', 'low', 'high', 'ci', 'estimate', 'lower', 'upper', 'point'].includes(k))
    ) {
      return formatMetric(v);
    }
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => (typeof x === 'object' && x !== null ? `${k}: ${showValue(x)}` : `${k} ${showValue(x)}`))
      .join(', ');
  }
  return String(v);
}

/**
 * The refs deployed right now: local model servers whose process runs, and cluster deployments whose
 * latest recorded event left them up. A server that stopped or a deployment removed gives no badge.
 */
export function liveDeployments(records: Record<string, any>[], local: Record<string, any>[]): Set<string> {
  const out = new Set<string>();
  const add = (ref: string) => {
    out.add(ref);
    out.add(ref.split(':')[0]);
  };
  for (const d of local) {
    if (d.status === 'running' && d.ref) {
      add(String(d.ref));
    }
  }
  const latest = new Map<string, Record<string, any>>();
  for (const r of records) {
    const d = r.data ?? {};
    if (r.kind !== 'deployment' || d.target === 'local') {
      continue;
    }
    const key = `${d.cluster ?? ''}/${d.namespace ?? ''}/${d.name ?? r.name}`;
    const prev = latest.get(key);
    if (!prev || String(r.created ?? '') >= String(prev.created ?? '')) {
      latest.set(key, r);
    }
  }
  for (const r of latest.values()) {
    const state = String(r.data?.state ?? '');
    if (state === 'deployed' || state === 'canary') {
      add(String(r.data?.ref ?? r.ref ?? `${r.name}:${r.version}`));
    }
  }
  return out;
}

function yamlScalar(v: unknown): string {
  if (v === null || v === undefined) {
    return 'null';
  }
  if (typeof v === 'number' || typeof v === 'boolean') {
    return String(v);
  }
  const s = String(v);
  // plain only when YAML reads it back as the same string
  const plain = /^[A-Za-z_/.][\w./@:-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s);
  return plain ? s : JSON.stringify(s);
}

/** Kubernetes manifests (JSON objects) as block YAML, documents separated by `---`. */
export function toYaml(docs: unknown[]): string {
  const lines: string[] = [];
  const walk = (v: unknown, indent: string): void => {
    if (Array.isArray(v)) {
      for (const item of v) {
        if (item !== null && typeof item === 'object' && Object.keys(item).length > 0) {
          const sub: string[] = [];
          const save = lines.length;
          walk(item, indent + '  ');
          sub.push(...lines.splice(save));
          lines.push(`${indent}- ${sub[0].trimStart()}`, ...sub.slice(1));
        } else {
          lines.push(
            `${indent}- ${typeof item === 'object' && item !== null ? (Array.isArray(item) ? '[]' : '{}') : yamlScalar(item)}`
          );
        }
      }
      return;
    }
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const key = yamlScalar(k);
      if (x !== null && typeof x === 'object' && Object.keys(x).length > 0) {
        lines.push(`${indent}${key}:`);
        walk(x, Array.isArray(x) ? indent : indent + '  ');
      } else if (x !== null && typeof x === 'object') {
        lines.push(`${indent}${key}: ${Array.isArray(x) ? '[]' : '{}'}`);
      } else {
        lines.push(`${indent}${key}: ${yamlScalar(x)}`);
      }
    }
  };
  return docs
    .map(d => {
      lines.length = 0;
      walk(d, '');
      return lines.join('\n');
    })
    .join('\n---\n');
}

/**
 * A report template parameter typed in the form, as the JSON value its declared type takes.
 * Returns `{ skip: true }` when left empty (the template's default applies).
 */
export function templateParamValue(
  text: string,
  param: { name: string; type: string }
): { value?: unknown; skip?: boolean; error?: string } {
  const t = text.trim();
  if (t === '') {
    return { skip: true };
  }
  const type = param.type.replace(/^Optional\[(.*)\]$/, '$1').replace(/\s*\|\s*None$/, '');
  if (type === 'int') {
    return /^-?\d+$/.test(t)
      ? { value: parseInt(t, 10) }
      : { error: `${param.name} must be a whole number, got '${text}'.` };
  }
  if (type === 'float') {
    const v = Number(t);
    return t !== '' && Number.isFinite(v) ? { value: v } : { error: `${param.name} must be a number, got '${text}'.` };
  }
  if (type === 'bool') {
    if (/^(true|false)$/i.test(t)) {
      return { value: t.toLowerCase() === 'true' };
    }
    return { error: `${param.name} must be true or false, got '${text}'.` };
  }
  if (type === 'dict' || type === 'list') {
    try {
      const v = JSON.parse(t);
      if (type === 'dict' ? v !== null && typeof v === 'object' && !Array.isArray(v) : Array.isArray(v)) {
        return { value: v };
      }
    } catch {
      // fall through to the sentence
    }
    return { error: `${param.name} must be a JSON ${type === 'dict' ? 'object' : 'list'}, got '${text}'.` };
  }
  return { value: text.trim() };
}

/**
 * SVG paths of a small chart: a line through `values` and, where `low`/`high` are given, the interval band.
 * Missing values (null) break the line. Both use the same y scale, which spans values, bands and `alsoShow`
 * (e.g. a threshold drawn across the chart).
 */
export function chartPaths(
  values: (number | null)[],
  low: (number | null)[] = [],
  high: (number | null)[] = [],
  width = 200,
  height = 40,
  alsoShow: number[] = []
): { line: string; band: string; min: number; max: number } {
  const all = [...values, ...low, ...high, ...alsoShow].filter((v): v is number => v !== null && Number.isFinite(v));
  if (all.length === 0) {
    return { line: '', band: '', min: 0, max: 0 };
  }
  const min = Math.min(...all);
  const max = Math.max(...all);
  const span = max - min || 1;
  const n = values.length;
  const x = (i: number) => (n <= 1 ? width / 2 : (i * width) / (n - 1));
  // one level only (a single window, or a flat series): drawn across the middle
  const y = (v: number) => (max === min ? height / 2 : height - 2 - ((v - min) / span) * (height - 4));
  const fmt = (v: number) => v.toFixed(1);
  let line = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    line += `${pen ? 'L' : 'M'}${fmt(x(i))},${fmt(y(v))}`;
    pen = true;
  });
  const idx = values
    .map((_, i) => i)
    .filter(i => low[i] !== null && low[i] !== undefined && high[i] !== null && high[i] !== undefined);
  let band = '';
  if (idx.length > 0) {
    const top = idx.map(i => `${fmt(x(i))},${fmt(y(high[i] as number))}`);
    const bottom = idx
      .slice()
      .reverse()
      .map(i => `${fmt(x(i))},${fmt(y(low[i] as number))}`);
    band = `M${top.join('L')}L${bottom.join('L')}Z`;
  }
  return { line, band, min, max };
}
