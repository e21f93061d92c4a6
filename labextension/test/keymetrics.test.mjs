// The version list shows each task's headline metrics, not the alphabetically first ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { keyMetrics } from '../lib/format.js';

test('classification shows ROC AUC and accuracy before alphabetically earlier metrics', () => {
  const m = {
    accuracy: 0.9,
    brier_score_loss: 0.08,
    calibration_error: 0.03,
    roc_auc: { value: 0.95, low: 0.9, high: 0.98 }
  };
  assert.deepEqual(
    keyMetrics(m).map(([k]) => k),
    ['roc_auc', 'accuracy']
  );
});

test('regression shows R² first; unknown metrics keep their order after the headline ones', () => {
  const m = { explained_variance: 0.5, mean_absolute_error: 2.1, max_error: 9, r2: 0.7 };
  assert.deepEqual(
    keyMetrics(m, 3).map(([k]) => k),
    ['r2', 'mean_absolute_error', 'explained_variance']
  );
});
