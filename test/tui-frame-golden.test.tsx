/**
 * The HUD's screen for fixed models, cell by cell: the plain text and the style of every cell.
 * The files under test/fixtures/hud-frames/ were written by the HUD as it was before the frame
 * speed work (issue 12) and checked by eye; a change that alters what the user sees fails here
 * and must update them on purpose (`npx vitest run test/tui-frame-golden.test.tsx -u`, then read
 * the diff).
 *
 * Styles are compared as the terminal shows them, not as bytes: SGR codes are replayed into a
 * per-cell state (bold, dim, inverse, foreground), so reordered or merged escape codes that draw
 * the same screen pass. A foreground, bold or dim on a blank cell cannot be seen and is dropped;
 * inverse on a blank can and is kept.
 */
import chalk from 'chalk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleModel } from '../src/hud/assemble.js';
import type { AuditEvent, HudAlert } from '../src/hud/model.js';
import { hudWorld } from '../bench/hud-world.js';
import { createLiveFrameRenderer, renderFrameToString, type FrameOptions } from '../src/tui/index.js';

const NOW = new Date('2026-11-26T10:00:00Z');
/** The bench's world (bench/hud-world.js, which bench/hud-frame.js times) with this test's own audit events. */
function world(tenantCount: number, perTenant: number, workerCount: number) {
  const { tenants, metrics, live } = hudWorld({ tenants: tenantCount, perTenant, workers: workerCount, now: NOW });
  const t = (i: number): string => tenants[i % tenantCount] ?? 'tenant-00';
  const events: AuditEvent[] = Array.from({ length: 50 }, (_, i) => ({
    time: new Date(NOW.getTime() - i * 1000).toISOString(),
    name: ['agent.run.completed', 'fleet.task.claimed', 'budget.exceeded', 'agent.run.failed'][i % 4] ?? 'agent.run.completed',
    project: i % 5 === 4 ? null : t(i),
    actor: i % 3 === 2 ? null : `user-${i % 4}`,
    detail: i % 6 === 5 ? null : `detail ${i}`,
  }));
  return { metrics, live, events };
}

const ALERTS: HudAlert[] = [
  { name: 'SagewaiBudgetExhausted', severity: 'critical', project: 'tenant-03', summary: 'used up', since: '2026-11-26T09:59:00Z' },
  { name: 'SagewaiBudget80Percent', severity: 'warning', project: 'tenant-07', summary: '85% used', since: '2026-11-26T09:58:00Z' },
];

function model(opts: { tenants: number; perTenant: number; workers: number; metricsDown?: boolean; alerts?: boolean }) {
  const w = world(opts.tenants, opts.perTenant, opts.workers);
  const previous = assembleModel({ now: new Date(NOW.getTime() - 2000), project: null, spendWindow: { from: new Date('2026-11-26T00:00:00Z'), to: NOW }, metrics: { ok: true, value: { ...w.metrics, requestRate: 1000, latencyP95Seconds: 0.05, errorRatio: 0.013 } }, live: { ok: true, value: w.live }, logs: { ok: true, value: w.events }, previous: null });
  return assembleModel({
    now: NOW,
    project: null,
    spendWindow: { from: new Date('2026-11-26T00:00:00Z'), to: NOW },
    metrics: opts.metricsDown ? { ok: false, reason: 'connection refused 127.0.0.1:8428' } : { ok: true, value: w.metrics },
    live: { ok: true, value: w.live },
    logs: { ok: true, value: w.events },
    ...(opts.alerts ? { alerts: { ok: true as const, value: ALERTS } } : {}),
    previous,
  });
}

interface CellStyle {
  bold: boolean;
  dim: boolean;
  inverse: boolean;
  fg: number | null;
}

/** Replays the SGR codes of one line into a per-cell style description, as runs: `3-9 bold fg33`. */
function styleRuns(line: string): string {
  const cells: string[] = [];
  const s: CellStyle = { bold: false, dim: false, inverse: false, fg: null };
  // eslint-disable-next-line no-control-regex
  const re = /\u001b\[([0-9;]*)m|([\s\S])/gu;
  for (const m of line.matchAll(re)) {
    if (m[2] === undefined) {
      for (const c of (m[1] || '0').split(';').map(Number)) {
        if (c === 0) Object.assign(s, { bold: false, dim: false, inverse: false, fg: null });
        else if (c === 1) s.bold = true;
        else if (c === 2) s.dim = true;
        else if (c === 22) s.bold = s.dim = false;
        else if (c === 7) s.inverse = true;
        else if (c === 27) s.inverse = false;
        else if (c === 39) s.fg = null;
        else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) s.fg = c;
        else throw new Error(`unexpected SGR code ${c} in ${JSON.stringify(line)}`);
      }
      continue;
    }
    const blank = m[2] === ' ';
    const parts = [s.bold && !blank ? 'bold' : '', s.dim && !blank ? 'dim' : '', s.inverse ? 'inverse' : '', s.fg !== null && !blank ? `fg${s.fg}` : ''].filter(Boolean);
    cells.push(parts.join(' '));
  }
  const runs: string[] = [];
  for (let i = 0; i < cells.length; ) {
    let j = i;
    while (j + 1 < cells.length && cells[j + 1] === cells[i]) j++;
    if (cells[i]) runs.push(`${i}-${j} ${cells[i]}`);
    i = j + 1;
  }
  return runs.join(', ');
}

/** The frame as the fixture holds it: the plain text, then each row's style runs. */
function describeFrame(colored: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = colored.replace(/\u001b\[[0-9;]*m/g, '');
  const rows = colored.split('\n');
  return `${plain}\n\n── styles (row: first-last cell style) ──\n${rows.map((r, i) => `${String(i).padStart(2)}: ${styleRuns(r)}`).join('\n')}\n`;
}

const CASES: Array<{ name: string; model: () => ReturnType<typeof model>; opts: FrameOptions }> = [
  { name: 'bench-120x40', model: () => model({ tenants: 20, perTenant: 50, workers: 100, alerts: true }), opts: { columns: 120, rows: 40 } },
  { name: 'few-tenants-140x44-missions-focus', model: () => model({ tenants: 3, perTenant: 4, workers: 9 }), opts: { columns: 140, rows: 44, focus: 'missions' } },
  { name: 'metrics-down-120x30', model: () => model({ tenants: 5, perTenant: 6, workers: 12, metricsDown: true }), opts: { columns: 120, rows: 30, focus: 'events' } },
  { name: 'narrow-80x24-fleet-focus', model: () => model({ tenants: 20, perTenant: 50, workers: 100 }), opts: { columns: 80, rows: 24, focus: 'fleet' } },
  { name: 'help-120x40', model: () => model({ tenants: 2, perTenant: 2, workers: 3 }), opts: { columns: 120, rows: 40, showHelp: true } },
];

describe('HUD frame, cell by cell, against the known-good frames', () => {
  // Ink colours its own parts (borders, titles, footer) through chalk, which turns itself off when
  // the test's stdout is not a terminal; fix the level so both colour layers are in the fixture.
  let level: typeof chalk.level;
  beforeAll(() => {
    level = chalk.level;
    chalk.level = 1;
  });
  afterAll(() => {
    chalk.level = level;
  });

  for (const c of CASES) {
    it(`${c.name}: one-shot and live redraw draw the known-good frame`, async () => {
      const m = c.model();
      const once = renderFrameToString(m, { ...c.opts, color: true });
      await expect(describeFrame(once)).toMatchFileSnapshot(`fixtures/hud-frames/${c.name}.txt`);
      // Without colour the text is the same and carries no escape code at all.
      const plain = renderFrameToString(m, { ...c.opts, color: false });
      expect(plain).not.toContain('\u001b');
      expect(describeFrame(once).startsWith(`${plain}\n\n──`)).toBe(true);
      // The live renderer, kept across frames of different models, ends on the same screen.
      const live = createLiveFrameRenderer({ ...c.opts, color: true });
      try {
        live.draw(model({ tenants: 1, perTenant: 1, workers: 1 }));
        live.draw(m);
        expect(live.draw(m)).toBe(once);
      } finally {
        live.unmount();
      }
    });
  }
});
