/**
 * `npm run bench`: runs every bench script in its own process (one after another, each bounded in
 * time), prints one table (figure, median, min–max over repeats, target, ratio to target) and
 * writes the same to bench/results/latest.json and bench/results/latest.md.
 *
 *   node bench/run-all.js                 # all
 *   node bench/run-all.js startup memory  # some (by name)
 *
 * A full run writes bench/results/latest.{json,md}; a run of some benches writes
 * bench/results/<name>[+<name>…].{json,md} instead, so the last full run stays what latest.* shows.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, machine } from './lib.js';

/** Name → time limit (s). Order: cheap first, the stack-heavy ones after. */
const BENCHES = [
  ['startup', 120],
  ['hud-frame', 120],
  ['first-data', 300],
  ['throughput', 420],
  ['telemetry-record', 240],
  ['replicas', 420],
  ['ledger-scale', 900],
  ['cost-report', 1200],
  ['cost-scaling', 900],
  ['memory', 420],
  ['agreement', 900],
  ['scale-limits', 240],
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !BENCHES.some(([n]) => n === w));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')} (known: ${BENCHES.map(([n]) => n).join(', ')})`);
  process.exit(2);
}
// BENCH_LIMIT_SCALE multiplies every time limit (a machine busy with other work imports slower).
const limitScale = Number(process.env.BENCH_LIMIT_SCALE ?? 1) || 1;
const selected = BENCHES.filter(([n]) => wanted.length === 0 || wanted.includes(n)).map(([n, limit]) => [n, Math.round(limit * limitScale)]);

let current = null;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    if (current) current.kill('SIGTERM');
    setTimeout(() => process.exit(130), 20_000).unref();
  });
}

function runBench(name, limitS) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'bench', `${name}.js`)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    current = child;
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`[run-all] ${name} exceeded ${limitS} s: stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
    }, limitS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      current = null;
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      if (line) resolve({ ...JSON.parse(line.slice('BENCH_RESULT '.length)), wallSeconds: seconds });
      else resolve({ bench: name, error: timedOut ? `timed out after ${limitS} s` : `exited ${signal ?? code} without a result`, figures: [], wallSeconds: seconds });
    });
  });
}

const fmt = (v, unit) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  const digits = unit === 'ratio' ? 3 : unit === 's' ? 2 : Math.abs(v) >= 100 ? 0 : 1;
  const n = v.toLocaleString('en-US', { minimumFractionDigits: unit === 'ratio' ? 3 : 0, maximumFractionDigits: digits });
  return unit === 'ratio' || unit === 'req/s' ? n : `${n} ${unit}`;
};
const targetText = (f) => f.target === null ? '—' : `${f.target.op === '==' ? '=' : f.target.op === '<=' ? '≤' : '≥'} ${fmt(f.target.value, f.unit)}${f.unit === 'req/s' ? ' req/s' : ''}${f.id === 'throughput' ? ', p99 ≤ 50 ms' : ''}`;

const t0 = Date.now();
const results = [];
for (const [name, limit] of selected) {
  console.error(`[run-all] ── ${name} (limit ${limit} s) ──`);
  const r = await runBench(name, limit);
  results.push(r);
  if (r.error) console.error(`[run-all] ${name}: ${r.error}`);
}
const totalSeconds = Math.round((Date.now() - t0) / 1000);

const rows = [];
for (const r of results) {
  if (r.figures.length === 0) rows.push({ figure: r.bench, median: 'n/a', range: 'n/a', runs: 0, target: '', ratio: '', status: `ERROR: ${r.error}` });
  for (const f of r.figures) {
    const med = f.id === 'throughput' ? `${fmt(f.median, f.unit)} req/s, p99 ${f.extra.p99ms.slice().sort((a, b) => a - b)[Math.floor(f.extra.p99ms.length / 2)]} ms` : fmt(f.median, f.unit);
    rows.push({
      figure: f.title,
      median: med,
      range: f.runs > 1 ? `${fmt(f.min, f.unit)} – ${fmt(f.max, f.unit)}` : '(1 run)',
      runs: f.runs,
      target: targetText(f),
      ratio: f.target === null ? '' : f.ratio === null ? (f.met ? 'exact' : 'differs') : f.ratio.toFixed(2),
      status: f.target === null ? '(no target)' : f.met ? 'met' : 'MISSED',
    });
  }
}
const m = machine();
const header = ['figure', 'measured (median)', 'min – max', 'runs', 'target', 'ratio to target', ''];
const md = [
  `| ${header.join(' | ')} |`,
  `|${header.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${[r.figure, r.median, r.range, r.runs, r.target, r.ratio, r.status].join(' | ')} |`),
].join('\n');
const machineLine = `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}. Load generator, backend and stack share the cores. Total bench time ${Math.floor(totalSeconds / 60)} min ${totalSeconds % 60} s.`;

// The host's speed beside the figures: it moves between runs and within one (bench/lib.js hostProbeMs).
const probes = results.filter((r) => r.hostProbe).map((r) => `${r.bench} ${r.hostProbe.startMs} → ${r.hostProbe.endMs}`);
const probeLine = probes.length ? `Host speed probe (ms for one fixed single-thread workload, lower is faster; at each bench's start → end): ${probes.join('; ')}.` : '';

const out = path.join(ROOT, 'bench', 'results');
fs.mkdirSync(out, { recursive: true });
const base = wanted.length === 0 ? 'latest' : selected.map(([n]) => n).join('+');
const tables = results.filter((r) => r.table).map((r) => `\n${r.bench}:\n\n${r.table}\n`).join('');
const json = { generatedAt: new Date().toISOString(), machine: m, totalSeconds, results };
fs.writeFileSync(path.join(out, `${base}.json.tmp`), `${JSON.stringify(json, null, 2)}\n`);
fs.renameSync(path.join(out, `${base}.json.tmp`), path.join(out, `${base}.json`));
fs.writeFileSync(path.join(out, `${base}.md`), `${md}\n\n${machineLine}\n${probeLine ? `\n${probeLine}\n` : ''}${tables}`);

// Console table (plain columns).
const cols = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String([r.figure, r.median, r.range, r.runs, r.target, r.ratio, r.status][i]).length)));
const line = (cells) => cells.map((c, i) => String(c).padEnd(cols[i])).join('  ');
console.log('');
console.log(line(header));
console.log(cols.map((w) => '─'.repeat(w)).join('  '));
for (const r of rows) console.log(line([r.figure, r.median, r.range, r.runs, r.target, r.ratio, r.status]));
console.log('');
console.log(machineLine);
if (probeLine) console.log(probeLine);
for (const r of results) for (const f of r.figures) console.log(`  ${f.id}: ${f.measured}. How: ${f.how}.`);
if (tables) console.log(tables);
console.log(`\nwritten: bench/results/${base}.json, bench/results/${base}.md`);
process.exit(results.some((r) => r.error) ? 1 : 0);
