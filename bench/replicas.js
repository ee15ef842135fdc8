/**
 * Figures: backend throughput with example 43's request mix on the embedded SQLite ledger and on
 * PostgreSQL with 1, 2 and 3 `serve` replicas, in one run.
 *
 * Telemetry off (this measures the stores, not the exporter; bench/throughput.js measures that).
 * Each configuration gets fresh backends (and, on PostgreSQL, a fresh database on one local
 * server with its default durability: fsync on, synchronous_commit on), the example-43
 * organisation, and bench/load.js (its own process) spreading `concurrency` closed loops over the
 * replicas in turn. Everything — load generator, replicas, PostgreSQL — shares this machine's
 * cores, so on a 2-core machine more replicas mostly means more processes competing for the same
 * two cores: the figures show the cost of the PostgreSQL path and of the replicas' coordination,
 * not the scaling a replica per machine would give.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, figure, log, machineBusy, main, onCleanup, round, runLoad, startBackend, trackPid, untrackPid } from './lib.js';
import { setupTenants } from './setup-tenants.js';

const DURATION_MS = Number(process.env.BENCH_REPLICAS_SECONDS ?? 8) * 1000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_REPLICAS_ROUNDS ?? 2);

function pgBinDir() {
  if (process.env.SAGEWAI_OBS_PG_BINDIR) return process.env.SAGEWAI_OBS_PG_BINDIR;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (fs.existsSync(path.join(root, v, 'bin', 'postgres'))) return path.join(root, v, 'bin');
  return null;
}

/** A local PostgreSQL in a temp dir on a free port (as the `postgres` OS user under root), stopped by PID. */
async function startPostgres() {
  const bin = pgBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (install Debian\'s postgresql package or set SAGEWAI_OBS_PG_BINDIR)');
  const { freePort } = await import('../dist/src/stack/ports.js');
  const pg = (await import('pg')).default;
  let prefix = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-bench-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    fs.chownSync(dir, uid, gid);
    prefix = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'];
  }
  const run = (cmd, args) => {
    const [exe, ...rest] = [...prefix, cmd, ...args];
    execFileSync(exe, rest, { stdio: 'pipe' });
  };
  const dataDir = path.join(dir, 'data');
  run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'sagewai', '-A', 'trust', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const out = fs.openSync(path.join(dir, 'postgres.log'), 'a');
  const [exe, ...rest] = [...prefix, path.join(bin, 'postgres'), '-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];
  const child = spawn(exe, rest, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  trackPid(child.pid);
  const base = `postgres://sagewai@127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: `${base}/postgres` });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`postgres did not start: ${err.message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    untrackPid(child.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  onCleanup(stop);
  let n = 0;
  return {
    pid: child.pid,
    async freshDatabase() {
      const name = `bench_${++n}`;
      const c = new pg.Client({ connectionString: `${base}/postgres` });
      await c.connect();
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
      return `${base}/${name}`;
    },
    stop,
  };
}

async function measure(label, replicas, pgPid) {
  const primary = replicas[0];
  const org = await setupTenants(primary);
  const procs = Object.fromEntries([...replicas.map((b, i) => [`serve${i + 1}`, b.pid]), ...(pgPid ? [['postgres', pgPid]] : [])]);
  const cpu0 = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const m0 = machineBusy();
  const w0 = performance.now();
  const r = await runLoad({ mode: 'mix', url: primary.url, urls: replicas.map((b) => b.url), token: primary.token, ...org, concurrency: CONCURRENCY, warmupMs: 2000, durationMs: DURATION_MS });
  const wall = (performance.now() - w0) / 1000;
  // postgres forks a process per connection: its own CPU is the postmaster's only, so it is left out.
  r.cpuCores = Object.fromEntries(Object.entries(procs).filter(([k]) => k !== 'postgres').map(([k, pid]) => [k, round((cpuSeconds(pid) - cpu0[k]) / wall, 2)]));
  r.machineBusy = machineBusy(m0);
  log(`${label}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50ms.toFixed(1)} ms, p99 ${r.p99ms.toFixed(1)} ms, ${JSON.stringify(r.byClass)}, transport errors ${r.transportErrors}; serve cores ${JSON.stringify(r.cpuCores)}; machine busy ${Math.round(r.machineBusy * 100)} % of ${os.cpus().length} cores`);
  return r;
}

await main('replicas', async () => {
  const pg = await startPostgres();
  const configs = [
    { id: 'sqlite', label: 'SQLite, 1 serve', n: 1, pg: false },
    { id: 'pg1', label: 'PostgreSQL, 1 replica', n: 1, pg: true },
    { id: 'pg2', label: 'PostgreSQL, 2 replicas', n: 2, pg: true },
    { id: 'pg3', label: 'PostgreSQL, 3 replicas', n: 3, pg: true },
  ];
  const results = Object.fromEntries(configs.map((c) => [c.id, []]));
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    for (const c of round_ % 2 === 0 ? configs : [...configs].reverse()) {
      const url = c.pg ? await pg.freshDatabase() : null;
      const replicas = [];
      try {
        // Each replica its own state dir (and operator token); the primary's token works on all (one database).
        for (let i = 0; i < c.n; i++) replicas.push(await startBackend(c.pg ? { args: ['--database', url, '--instance-id', `bench-${i + 1}`] } : {}));
        results[c.id].push(await measure(`round ${round_ + 1} ${c.label}`, replicas, c.pg ? pg.pid : null));
      } finally {
        for (const b of replicas) await b.stop();
      }
    }
  }
  await pg.stop();
  const how = `${ROUNDS} rounds (configuration order reversed every other round), fresh backends and database per configuration, telemetry off, latency-scale 0, ${CONCURRENCY} closed loops of the example-43 mix spread over the replicas in turn, 2 s warm-up + ${DURATION_MS / 1000} s counted; load generator, every replica and PostgreSQL share this machine's ${os.cpus().length} cores`;
  const rps = (id) => results[id].map((r) => round(r.rps, 0));
  const p99 = (id) => results[id].map((r) => round(r.p99ms, 1));
  const errors = (id) => results[id].reduce((n, r) => n + r.byClass['5xx'] + r.transportErrors, 0);
  return configs.map((c) =>
    figure({
      id: `replicas-${c.id}`,
      title: `throughput, example-43 mix: ${c.label}`,
      unit: 'req/s',
      values: rps(c.id),
      // No target of its own: the figures are read next to each other (docs/bench.md).
      target: null,
      measured: `p99 ${p99(c.id).join(', ')} ms; 5xx + transport errors ${errors(c.id)}`,
      how,
      extra: { p99ms: p99(c.id), p50ms: results[c.id].map((r) => round(r.p50ms, 1)), cpuCores: results[c.id].map((r) => r.cpuCores), machineBusy: results[c.id].map((r) => r.machineBusy), fiveXxOrTransportErrors: errors(c.id) },
    }),
  );
});
