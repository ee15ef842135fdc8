import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog } from '../src/queries/index.js';
import { runExample, type RunExampleReport } from '../src/run-example/index.js';
import type { StackRecord } from '../src/stack/state.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * All four examples against the real collector, VictoriaMetrics and VictoriaLogs and a real
 * `serve`, each with --verify; then a deliberately broken pipeline must fail verification.
 * run-example starts (and stops) its own backend; the stack is the test's.
 */
let stack: TestStack;
const failedChecks = (r: RunExampleReport): string[] => r.failed;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('examples against the real stack', () => {
  it('43 (30 s) fills every board panel, reconciles cost, status classes and audit events', async () => {
    const r = await runExample({ example: '43', durationMs: 30_000, verify: true, keep: false, stateDir: stack.stateDir });
    expect(failedChecks(r)).toEqual([]);
    const panelChecks = r.verification!.checks.filter((c) => c.name.startsWith('panel '));
    expect(panelChecks).toHaveLength(catalog.filter((e) => e.panel).length);
    expect(r.verification!.checks.some((c) => c.name.startsWith('requests 2xx') && c.ok)).toBe(true);
    // Three tenants with their models, one check per (project, model) pair.
    expect(r.verification!.checks.filter((c) => /^cost \S+ \/ \S+: VictoriaMetrics == ledger$/.test(c.name)).length).toBeGreaterThanOrEqual(3);
    expect(r.timeToFirstDataSeconds).not.toBeNull();
    expect(r.result.requests.total).toBeGreaterThan(200);
    expect(r.started).toEqual({ stack: false, backend: true });
  });

  it('34 prices the fixed workload identically in the price book, the ledger and the catalog', async () => {
    const r = await runExample({ example: '34', verify: true, keep: false, stateDir: stack.stateDir });
    expect(failedChecks(r)).toEqual([]);
    const res = r.result as unknown as { totalUsd: number; byProject: Array<{ key: string; catalogUsd: number }> };
    // 0.13375 + 0.002265 + 0.00018, worked out by hand from the list prices in the price book.
    expect(res.totalUsd).toBeCloseTo(0.136195, 9);
    expect(res.byProject.find((p) => p.key === 'acme-prod')?.catalogUsd).toBeCloseTo(0.13375, 9);
  });

  it('40 moves 100 tasks through 24 workers with no leak, loss or duplicate', async () => {
    const r = await runExample({ example: '40', verify: true, keep: false, stateDir: stack.stateDir });
    expect(failedChecks(r)).toEqual([]);
    const res = r.result as unknown as { workers: number; tasks: { completed: number; byTenant: Record<string, number> }; claimLatencyMs: { p50: number; p99: number } };
    expect(res.workers).toBe(24);
    expect(res.tasks.completed).toBe(100);
    expect(res.tasks.byTenant).toEqual({ 'acme-fleet': 40, 'globex-fleet': 35, 'initech-fleet': 25 });
    expect(res.claimLatencyMs.p99).toBeGreaterThanOrEqual(res.claimLatencyMs.p50);
  });

  it('12 warns, throttles, stops with 402 and never overshoots a stop cap under a burst', async () => {
    const r = await runExample({ example: '12', verify: true, keep: false, stateDir: stack.stateDir });
    expect(failedChecks(r)).toEqual([]);
    const res = r.result as unknown as { burst: { overshootUsd: number; succeeded: number; denied: number } };
    expect(res.burst.overshootUsd).toBe(0);
    expect(res.burst.succeeded + res.burst.denied).toBe(20);
    expect(res.burst.denied).toBeGreaterThan(0);
  });

  it('with the collector killed mid-run, `run-example 43 --verify` exits 3 and names the failed checks', async () => {
    const record = JSON.parse(fs.readFileSync(path.join(stack.stateDir, 'stack.json'), 'utf8')) as StackRecord;
    const child = spawn(process.execPath, [path.resolve(__dirname, '..', 'bin', 'run.js'), 'run-example', '43', '--duration', '20s', '--verify', '--json', '--state-dir', stack.stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Let the run get going (first data visible), then take the collector away for good.
    await new Promise((r) => setTimeout(r, 10_000));
    const pid = record.components.collector.pid;
    expect(pid).toBeTypeOf('number');
    process.kill(pid as number, 'SIGKILL');
    const code = await exited;
    expect(code, stderr).toBe(3);
    const out = JSON.parse(stdout) as { error: { kind: string; message: string }; result: RunExampleReport };
    expect(out.error.kind).toBe('check-failed');
    const failed = out.result.failed;
    // Requests after the kill never reach VictoriaMetrics, so the driver's counts cannot match,
    // and the cost of the later runs is missing from the catalog.
    expect(failed.some((f) => f.startsWith('requests 2xx: driver == HTTP metrics'))).toBe(true);
    expect(failed.some((f) => /^cost \S+ \/ \S+: VictoriaMetrics == ledger/.test(f))).toBe(true);
    for (const f of failed) expect(out.error.message).toContain(f.split(':')[0]);
  });
});
