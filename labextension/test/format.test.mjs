// Unit tests of the panel's pure helpers (lib/format.js, compiled by `jlpm build:lib`).
// Run: node --experimental-detect-module --test test/   (or `jlpm test`)
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ago, checkInteger, formatMetric, keyMetrics, readMetric, sparkline } from '../lib/format.js';

test('metrics with intervals are read from every shape the registry uses', () => {
  assert.deepEqual(readMetric(0.9), { value: 0.9, low: null, high: null });
  assert.deepEqual(readMetric({ value: 0.9, low: 0.8, high: 0.95 }), { value: 0.9, low: 0.8, high: 0.95 });
  assert.deepEqual(readMetric({ value: 0.9, ci: [0.8, 0.95] }), { value: 0.9, low: 0.8, high: 0.95 });
  assert.deepEqual(readMetric('n/a'), { value: null, low: null, high: null });
  assert.equal(formatMetric({ value: 0.95321, low: 0.931, high: 0.97 }), '0.953 [0.931, 0.970]');
  assert.equal(formatMetric(12), '12');
  assert.equal(formatMetric(null), '–');
});

test('key metrics keep the registry order and skip non-numbers', () => {
  assert.deepEqual(keyMetrics({ note: 'x', accuracy: 0.9, f1: { value: 0.8 }, auc: 0.7 }), [
    ['accuracy', '0.900'],
    ['f1', '0.800']
  ]);
  assert.deepEqual(keyMetrics(undefined), []);
});

test('integer fields give one sentence naming the field and the bad value', () => {
  assert.deepEqual(checkInteger('3', 'Replicas', 1, 100), { value: 3 });
  assert.equal(
    checkInteger('two', 'Replicas', 1, 100).error,
    "Replicas must be a whole number between 1 and 100, got 'two'."
  );
  assert.equal(
    checkInteger('1.5', 'Replicas', 1, 100).error,
    "Replicas must be a whole number between 1 and 100, got '1.5'."
  );
  assert.equal(checkInteger('101', 'Canary %', 0, 100).error, 'Canary % must be between 0 and 100, got 101.');
});

test('sparkline spans the box, highest value at the top', () => {
  const pts = sparkline([1, 3, 2], 100, 24)
    .split(' ')
    .map(p => p.split(',').map(Number));
  assert.equal(pts.length, 3);
  assert.equal(pts[0][0], 0);
  assert.equal(pts[2][0], 100);
  assert.ok(pts[1][1] < pts[0][1] && pts[1][1] < pts[2][1]);
  assert.equal(sparkline([]), '');
});

test('ages are relative and accept seconds, milliseconds and ISO dates', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  assert.equal(ago(now / 1000 - 30, now), '30s ago');
  assert.equal(ago('2026-01-01T10:00:00Z', now), '2h ago');
  assert.equal(ago(null, now), '');
});

test('a report whose gate failed is never shown as a success', async () => {
  const { reportVerdict, readGate } = await import('../lib/format.js');
  const run = {
    status: 'succeeded',
    gates_passed: false,
    gates: [
      {
        name: 'drift_share <= 0.05',
        status: 'fail',
        metric: 'drift_share',
        op: '<=',
        threshold: 0.05,
        observed: 0.05555555555555555,
        low: 0.0312,
        high: 0.0833
      },
      { name: 'accuracy >= 0.9', status: 'pass', metric: 'accuracy', op: '>=', threshold: 0.9, observed: 0.93 }
    ]
  };
  assert.deepEqual(reportVerdict(run), { verdict: 'fail', label: 'gates failed (1 of 2)', failed: 1, total: 2 });
  assert.deepEqual(readGate(run.gates[0]), {
    name: 'drift_share <= 0.05',
    verdict: 'fail',
    rule: 'drift_share <= 0.05',
    observed: '0.056',
    interval: '[0.031, 0.083]'
  });
  assert.equal(reportVerdict({ status: 'succeeded', gates: [run.gates[1]] }).verdict, 'pass');
  assert.equal(reportVerdict({ status: 'failed', gates: [] }).verdict, 'fail');
  assert.equal(reportVerdict({ status: 'succeeded', gates_passed: false }).verdict, 'fail');
});

test('values are formatted, never printed with every float digit', async () => {
  const { showValue } = await import('../lib/format.js');
  assert.equal(showValue({ drift_share: 0.05555555555555555, n: 12 }), 'drift_share 0.056, n 12');
  assert.equal(showValue({ value: 0.95321, low: 0.931, high: 0.97 }), '0.953 [0.931, 0.970]');
  assert.equal(showValue(null), '–');
});

test('"deployed" reflects what runs now, not what was once deployed', async () => {
  const { liveDeployments } = await import('../lib/format.js');
  const records = [
    {
      kind: 'deployment',
      name: 'churn',
      version: 2,
      created: '2026-01-01T00:00:00Z',
      data: { target: 'local', ref: 'churn:2' }
    },
    {
      kind: 'deployment',
      name: 'fraud',
      version: 1,
      created: '2026-01-01T00:00:00Z',
      data: { cluster: 'prod', namespace: 'ml', name: 'fraud', ref: 'fraud:1', state: 'deployed' }
    },
    {
      kind: 'deployment',
      name: 'fraud',
      version: 1,
      created: '2026-01-02T00:00:00Z',
      data: { cluster: 'prod', namespace: 'ml', name: 'fraud', ref: 'fraud:1', state: 'removed' }
    },
    {
      kind: 'deployment',
      name: 'churn',
      version: 1,
      created: '2026-01-02T00:00:00Z',
      data: { cluster: 'prod', namespace: 'ml', name: 'churn', ref: 'churn:1', state: 'deployed' }
    }
  ];
  // the local server of churn:2 stopped; fraud was removed from its cluster; churn:1 still runs there
  assert.deepEqual([...liveDeployments(records, [{ ref: 'churn:2', status: 'stopped' }])].sort(), ['churn', 'churn:1']);
  assert.deepEqual([...liveDeployments([], [{ ref: 'churn:2', status: 'running' }])].sort(), ['churn', 'churn:2']);
});

test('manifests become block YAML that keeps strings strings', async () => {
  const { toYaml } = await import('../lib/format.js');
  const y = toYaml([
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'churn', labels: { v: '3' } },
      spec: { replicas: 2, containers: [{ name: 'server', args: ['--port', '8080'], env: [] }] }
    },
    { kind: 'Service', data: { on: 'yes', empty: {} } }
  ]);
  assert.equal(
    y,
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: churn',
      '  labels:',
      '    v: "3"',
      'spec:',
      '  replicas: 2',
      '  containers:',
      '  - name: server',
      '    args:',
      '    - "--port"',
      '    - "8080"',
      '    env: []',
      '---',
      'kind: Service',
      'data:',
      '  "on": "yes"',
      '  empty: {}'
    ].join('\n')
  );
});

test('report template parameters are typed as the template declares them', async () => {
  const { templateParamValue } = await import('../lib/format.js');
  assert.deepEqual(templateParamValue('', { name: 'min_score', type: 'float' }), { skip: true });
  assert.deepEqual(templateParamValue('0.3', { name: 'min_score', type: 'float' }), { value: 0.3 });
  assert.equal(
    templateParamValue('high', { name: 'min_score', type: 'float' }).error,
    "min_score must be a number, got 'high'."
  );
  assert.deepEqual(templateParamValue('200', { name: 'n_boot', type: 'int' }), { value: 200 });
  assert.equal(
    templateParamValue('2.5', { name: 'n_boot', type: 'int' }).error,
    "n_boot must be a whole number, got '2.5'."
  );
  assert.deepEqual(templateParamValue(' target ', { name: 'label_column', type: 'str' }), { value: 'target' });
  assert.deepEqual(templateParamValue('{"accuracy": ">= 0.9"}', { name: 'gates', type: 'dict' }), {
    value: { accuracy: '>= 0.9' }
  });
  assert.equal(
    templateParamValue('[1]', { name: 'gates', type: 'dict' }).error,
    "gates must be a JSON object, got '[1]'."
  );
});

test('chart paths: a line broken at missing values and a band from the intervals', async () => {
  const { chartPaths } = await import('../lib/format.js');
  const c = chartPaths([1, null, 3], [0, null, 2], [2, null, 4], 100, 44);
  assert.equal(chartPaths([5], [], [], 100, 44).line, 'M50.0,22.0'); // one level: across the middle
  assert.equal(c.min, 0);
  assert.equal(c.max, 4);
  assert.equal(c.line, 'M0.0,32.0M100.0,12.0');
  assert.equal(c.band, 'M0.0,22.0L100.0,2.0L100.0,22.0L0.0,42.0Z');
  assert.deepEqual(chartPaths([null]), { line: '', band: '', min: 0, max: 0 });
});
