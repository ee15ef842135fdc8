import { describe, expect, it } from 'vitest';
import type { BudgetStatus } from '../src/clients/backend.js';
import { forecastFor } from '../src/report/budget-forecast.js';

const now = Date.parse('2026-12-01T12:00:00.000Z');
const budget = (utilization: number, limit = 10): BudgetStatus => ({
  id: 'b1',
  project: 'acme',
  scope: 'user',
  subject: 'alice',
  window: 'daily',
  limit_usd: limit,
  action: 'warn',
  fallback_model: null,
  created_at: '2026-12-01T00:00:00.000Z',
  spent_usd: utilization * limit,
  reserved_usd: 0,
  utilization,
  window_start: '2026-12-01T00:00:00.000Z',
  resets_at: '2026-12-02T00:00:00.000Z',
  state: utilization >= 1 ? 'exceeded' : 'ok',
});

describe('budget forecast', () => {
  it('projects the spend at the window end and the moment the cap is reached', () => {
    // Half used at noon, filling 0.1 per hour: full in 5 h (17:00), 1.7 × the cap by midnight.
    const f = forecastFor(budget(0.5), { projected: 1.7, slopePerSecond: 0.1 / 3600 }, now);
    expect(f.projected_spend_usd).toBeCloseTo(17, 6);
    expect(f.burn_usd_per_hour).toBeCloseTo(1, 6);
    expect(f.exhausts_at).toBe('2026-12-01T17:00:00.000Z');
  });

  it('says nothing runs out when the rate does not reach the cap before the window resets', () => {
    const f = forecastFor(budget(0.5), { projected: 0.9, slopePerSecond: 0.4 / (12 * 3600) }, now);
    expect(f.exhausts_at).toBeNull();
    expect(f.projected_spend_usd).toBeCloseTo(9, 6);
    expect(forecastFor(budget(0.5), { projected: 0.5, slopePerSecond: 0 }, now).exhausts_at).toBeNull();
  });

  it('an exhausted cap runs out now; a budget VictoriaMetrics has no series for gets no numbers', () => {
    expect(forecastFor(budget(1), { projected: 1, slopePerSecond: 0 }, now).exhausts_at).toBe(new Date(now).toISOString());
    expect(forecastFor(budget(0.2), {}, now)).toEqual({ projected_spend_usd: null, projected_utilization: null, burn_usd_per_hour: null, exhausts_at: null });
  });
});
