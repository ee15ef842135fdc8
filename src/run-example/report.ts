import type { RequestCounter } from '../driver/counter.js';
import type { LiveProgress } from '../driver/context.js';
import type { RunExampleReport } from './index.js';

/** One live progress line: calls by status class, runs, tasks, spend, time to first data. */
export function progressLine(id: string, elapsedMs: number, counter: RequestCounter, p: LiveProgress, ttfd: number | null, catalogSpend: number | null): string {
  const c = counter.byClass();
  const parts = [
    `[${id}] ${String(Math.round(elapsedMs / 1000)).padStart(4)}s ${p.phase}`,
    `calls ${counter.total()} (2xx ${c['2xx']} 4xx ${c['4xx']} 5xx ${c['5xx']}${counter.transportErrors ? ` no-answer ${counter.transportErrors}` : ''})`,
    `runs ${p.runs}${p.runErrors ? ` (${p.runErrors} err)` : ''}${p.denied ? ` denied ${p.denied}` : ''}`,
  ];
  if (p.workers > 0) parts.push(`workers ${p.workers} tasks ${p.tasksDone}${p.tasksFailed ? `/${p.tasksFailed} failed` : ''}`);
  parts.push(`spend $${p.spendUsd.toFixed(4)}${catalogSpend !== null ? ` (catalog $${catalogSpend.toFixed(4)})` : ''}`);
  parts.push(`first data ${ttfd === null ? '…' : `${ttfd}s`}`);
  return parts.join('  ');
}

/** The proof, as text: what ran, the figures, every check with its outcome. */
export function renderReport(r: RunExampleReport): string[] {
  const res = r.result;
  const lines: string[] = [];
  lines.push(`Example ${r.example} — ${r.title}: ${r.ok ? 'PASSED' : 'FAILED'}`);
  lines.push(`  window ${res.window.from} → ${res.window.to}, seed ${res.seed}, tenants ${res.projects.join(', ')}`);
  const q = res.requests;
  lines.push(`  requests ${q.total} at ${q.requestsPerSecond}/s: 2xx ${q.byClass['2xx']}, 3xx ${q.byClass['3xx']}, 4xx ${q.byClass['4xx']}, 5xx ${q.byClass['5xx']} (health routes: ${q.healthByClass['2xx']} × 2xx)${q.transportErrors ? `, ${q.transportErrors} without answer` : ''}`);
  lines.push(`  time to first data: ${r.timeToFirstDataSeconds === null ? 'not seen' : `${r.timeToFirstDataSeconds} s`}`);
  for (const l of figures(res)) lines.push(`  ${l}`);
  const checks = [...res.checks, ...(r.verification?.checks ?? [])];
  lines.push(`  checks (${checks.filter((c) => c.ok).length}/${checks.length} passed${r.verification ? `, stores settled in ${r.verification.settleSeconds} s` : ''}):`);
  for (const c of checks) lines.push(`    ${c.ok ? 'ok  ' : 'FAIL'} ${c.name} — ${c.detail}`);
  if (r.kept) lines.push(...keptLines(r.kept));
  return lines;
}

/** What --keep left running, where later commands find it, and how to stop it. */
function keptLines(k: NonNullable<RunExampleReport['kept']>): string[] {
  const lines = [`kept running (--keep); later commands${k.stateDirFlag ? ` given${k.stateDirFlag}` : ''} use it:`];
  if (k.stack) lines.push(`  stack in ${k.stateDir}: sagewai-obs status${k.stateDirFlag}`);
  if (k.backend) lines.push(`  backend on ${k.backend.url} (pid ${k.backend.pid}, log ${k.backend.logFile}); stop it alone with: kill ${k.backend.pid}`);
  lines.push(`  stop ${k.stack && k.backend ? 'both' : 'it'} with: ${k.stopCommand}`);
  return lines;
}

function figures(res: RunExampleReport['result']): string[] {
  const r = res as unknown as Record<string, unknown>;
  const out: string[] = [];
  const money = (n: unknown): string => `$${Number(n).toFixed(6)}`;
  if (res.example === '43') {
    const runs = r.runs as { total: number; completed: number; errors: number; denied: number };
    const tasks = r.tasks as { enqueued: number; completed: number; failed: number };
    out.push(`runs ${runs.total} (${runs.completed} completed, ${runs.errors} errors, ${runs.denied} denied by budget), spend ${money(r.spendUsd)}`);
    out.push(`fleet: ${(r.workers as { registered: number }).registered} workers, tasks ${tasks.enqueued} enqueued / ${tasks.completed} completed / ${tasks.failed} failed`);
  }
  if (res.example === '34') {
    for (const key of ['byProject', 'byModel'] as const) {
      out.push(key === 'byProject' ? 'by project:' : 'by model:');
      for (const x of r[key] as Array<{ key: string; calls: number; inputTokens: number; outputTokens: number; expectedUsd: number; ledgerUsd: number; catalogUsd: number }>) {
        out.push(`  ${x.key.padEnd(20)} ${String(x.calls).padStart(2)} calls ${String(x.inputTokens).padStart(6)} in ${String(x.outputTokens).padStart(5)} out  price book ${money(x.expectedUsd)}  ledger ${money(x.ledgerUsd)}  catalog ${money(x.catalogUsd)}`);
      }
    }
    const lc = r.localVsCloud as { localTokenShare: number; localUsd: number; cloudUsd: number };
    const wi = r.whatIf as { actualUsd: number; allLocalUsd: number; allCloudModel: string; allCloudUsd: number };
    out.push(`local vs cloud: ${(lc.localTokenShare * 100).toFixed(1)} % of tokens local ($${lc.localUsd.toFixed(6)}), cloud ${money(lc.cloudUsd)}`);
    out.push(`what-if: actual ${money(wi.actualUsd)}, all local ${money(wi.allLocalUsd)}, all cloud at ${wi.allCloudModel} ${money(wi.allCloudUsd)}`);
    for (const p of r.preflight as Array<{ project: string; limitUsd: number; spentUsd: number; nextRunUsd: number; verdict: string }>) {
      out.push(`pre-flight ${p.project}: spent ${money(p.spentUsd)} of $${p.limitUsd}/day; the same workload again ${money(p.nextRunUsd)} → ${p.verdict}`);
    }
  }
  if (res.example === '40') {
    const lat = r.claimLatencyMs as { p50: number; p95: number; p99: number };
    const t = r.tasks as { completed: number; lost: number; doneTwice: number; leaks: number };
    out.push(`claim latency (enqueue → claimed) p50 ${lat.p50} ms, p95 ${lat.p95} ms, p99 ${lat.p99} ms`);
    out.push(`throughput ${r.throughputTasksPerSecond} tasks/s over ${r.elapsedSeconds} s; completed ${t.completed}, lost ${t.lost}, done twice ${t.doneTwice}, cross-tenant leaks ${t.leaks}`);
  }
  if (res.example === '12') {
    const b = r.burst as { calls: number; succeeded: number; denied: number; overshootUsd: number; capUsd: number; spentAfterUsd: number };
    out.push(`burst: ${b.calls} concurrent calls → ${b.succeeded} through, ${b.denied} × 402; spent ${money(b.spentAfterUsd)} of $${b.capUsd}, overshoot ${money(b.overshootUsd)}`);
    for (const x of r.budgets as Array<{ scope: string; subject: string; action: string; limitUsd: number; spentUsd: number; state: string }>) {
      out.push(`${x.scope} ${x.subject.padEnd(12)} ${x.action.padEnd(8)} ${money(x.spentUsd)} of $${x.limitUsd} (${x.state})`);
    }
  }
  return out;
}
