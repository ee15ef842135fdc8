/**
 * Figure: agreement — ledger cost vs VictoriaMetrics cost after 100,000 runs; the difference must
 * be exactly 0.
 *
 * A real stack and `serve --latency-scale 0` (telemetry on, 1 s metric export) with example 43's
 * three tenants and twelve agents (two models), with their warn-only daily project budgets. bench/load.js sends exactly BENCH_AGREEMENT_RUNS
 * (default 100,000) POST /playground/run with fixed simulate token counts (1,234 input, 321 cached
 * input, 456 output), 32 at a time. Then, after one export + one scrape and a force-flush, the
 * ledger's total (GET /api/v1/analytics/costs, integer nano-USD) is compared with the catalog's
 * ledger.cost_by_project_model over the run's window (each series rounded to the nano-dollar, summed as
 * integers) — and with the run_finished usage the client summed. One run (it is the expensive one).
 */
import { api, dist, figure, log, main, round, runLoad, sleep, startBackend, startStack, vmQuery } from './lib.js';
import { setupTenants } from './setup-tenants.js';

const RUNS = Number(process.env.BENCH_AGREEMENT_RUNS ?? 100_000);

await main('agreement', async () => {
  const { getEntry, renderExpr } = await dist('src/queries/index.js');
  const { vmForceFlush } = await dist('src/stack/health.js');
  const stack = await startStack();
  const from = new Date(Date.now() - 60_000);
  const backend = await startBackend({ otlpHttp: stack.endpoints.otlpHttp, exportIntervalMs: 1000 });
  // With example 43's warn-only project budgets, so every run also goes through the budget check
  // (a per-day running total since budget_spend; before it, a sum over the window's ledger rows
  // made 100,000 runs quadratic).
  const org = await setupTenants(backend);
  const load = await runLoad({ mode: 'runs', url: backend.url, token: backend.token, ...org, runs: RUNS, concurrency: 32, simulate: { input_tokens: 1234, cached_input_tokens: 321, output_tokens: 456 } }, 900_000);
  log(`${load.runs} runs in ${load.seconds.toFixed(1)} s (${load.rps.toFixed(0)} runs/s): ${load.completed} completed, ${load.failed} failed, client-summed ${load.costNusd} nUSD`);

  const to = () => new Date(Date.now() + 60_000);
  const ledger = await api(backend.url, backend.token, 'GET', `/api/v1/analytics/costs?from=${from.toISOString()}&to=${to().toISOString()}&group_by=project,model`);
  const ledgerNusd = ledger.total.cost_nusd;
  const entry = getEntry('ledger.cost_by_project_model');
  const vmNusd = async () => {
    const range = `${Math.ceil((Date.now() - from.getTime()) / 1000) + 60}s`;
    const { result } = await vmQuery(stack.endpoints.vmUrl, renderExpr(entry, { range }));
    return result.reduce((n, s) => n + Math.round(Number(s.value[1]) * 1e9), 0);
  };
  // One export (1 s) and one scrape (2 s), then make the samples searchable; read until the
  // number stops moving (or agrees), at most 30 s.
  await sleep(3500);
  let vm = NaN;
  const t0 = Date.now();
  for (;;) {
    await vmForceFlush(stack.endpoints.vmUrl);
    const v = await vmNusd();
    if (v === ledgerNusd || v === vm || Date.now() - t0 > 30_000) {
      vm = v;
      break;
    }
    vm = v;
    await sleep(2500);
  }
  const diff = vm - ledgerNusd;
  log(`ledger ${ledgerNusd} nUSD ($${ledgerNusd / 1e9}), VictoriaMetrics ${vm} nUSD, difference ${diff} nUSD; ledger calls ${ledger.total.calls}`);
  return [
    figure({
      id: 'agreement',
      title: `agreement: ledger vs VictoriaMetrics cost after ${RUNS.toLocaleString('en-US')} runs`,
      unit: 'nUSD',
      values: [diff],
      target: { op: '==', value: 0 },
      measured: `ledger $${(ledgerNusd / 1e9).toFixed(9)} (${ledger.total.calls} calls) vs catalog $${(vm / 1e9).toFixed(9)}; run_finished usage summed by the client $${(load.costNusd / 1e9).toFixed(9)}`,
      how: `${RUNS} runs (fixed simulate tokens, latency 0, 32 concurrent, ${round(load.rps, 0)} runs/s) over 3 tenants × 4 agents; ledger /api/v1/analytics/costs vs catalog ledger.cost_by_project_model, both in integer nano-USD; 1 run`,
      extra: { ledgerNusd, vmNusd: vm, clientNusd: load.costNusd, runsCompleted: load.completed, runsFailed: load.failed, runsPerSecond: round(load.rps, 0) },
    }),
  ];
});
