import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { VictoriaLogsClient } from '../src/clients/victoria-logs.js';
import { packageRoot } from '../src/paths.js';
import { vmForceFlush } from '../src/stack/health.js';
import { readStackRecord } from '../src/stack/state.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { ADMIN, bootstrap, eventually, isLoopback, listeningSockets, reconcileExact, runBuiltCli, sleep, startLoad, type CliResult, type Load, type Tenant } from './helpers/fault.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

// Faults 7 and 8 of docs/faults.md, on one stack and one backend with two busy tenants:
// a token scoped to tenant A never sees tenant B (every project-taking route of /openapi.json
// answers 404; `cost`, `hud --once`, `audit` with --project A show nothing of B), and after
// example-43-like traffic (logins, workers, prompts with e-mail addresses) nothing secret or
// personal is in VictoriaLogs or in any VictoriaMetrics label; every listening socket is loopback.
let stack: TestStack;
let backend: TestBackend;
let client: BackendClient;
let load: Load;
let tokenA: string;
const started = new Date(Date.now() - 5000);

const A: Tenant = { project: 'tenant-a', agent: 'helper', model: 'gpt-4o-mini' };
const B: Tenant = { project: 'tenant-b', agent: 'secret-agent', model: 'claude-opus-4-1' };
const SENTINEL_PROMPT = 'RAW-PROMPT-7f3a9c do not log this sentence';
const SENTINEL_SYSTEM = 'SYSTEM-PROMPT-51be02 internal instructions';
const CUSTOMER_EMAIL = 'jane.customer@example.org';
const WRONG_PASSWORD = 'wrong-Pa55-8d1e7fa0';
const secrets: Record<string, string> = {};

const log = (line: string): void => {
  process.stdout.write(`[fault] ${line}\n`);
};

beforeAll(async () => {
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  client = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken, timeoutMs: 20_000 });
  await bootstrap(client, [A, B], { system_prompt: SENTINEL_SYSTEM });
  tokenA = (await client.createProjectToken(A.project, 'tenant-a-token')).token;
  secrets['operator token'] = backend.operatorToken;
  secrets['project token'] = tokenA;
  secrets['admin password'] = ADMIN.password;
  secrets['wrong password'] = WRONG_PASSWORD;
  // Both tenants busy for the whole file (bounded: 4000 runs or 5 minutes).
  load = startLoad(client, [A, B], { concurrency: 2, maxRuns: 4000, maxMs: 300_000, pauseMs: 20, message: (n) => `${SENTINEL_PROMPT} ${n}; reply to ${CUSTOMER_EMAIL}` });
  await eventually('both tenants busy', async () => load.result.acked.length, (n) => n >= 300, 60_000, 200);
});

afterAll(async () => {
  await load?.stop();
  await client?.close();
  await backend?.stop();
  await stack?.stop();
});

const ROUTES_WITHOUT_A_PROJECT = new Set([
  'GET /api/v1/setup/status',
  'POST /api/v1/setup',
  'POST /api/v1/auth/login',
  'GET /api/v1/auth/me',
  'POST /api/v1/auth/logout',
  'GET /api/v1/projects', // a list: checked below to hold only A
  'POST /api/v1/projects', // unscoped tokens only (403 for a project token)
  'GET /api/v1/health/summary',
  'GET /openapi.json',
  'GET /healthz',
  'GET /readyz',
  // Worker routes authenticate a worker (X-Worker-Id/-Secret), whose project is fixed; checked below.
  'POST /api/v1/fleet/heartbeat',
  'POST /api/v1/fleet/claim',
  'POST /api/v1/fleet/report',
  // Price books are global (every tenant's calls are priced by them); closed months hold every
  // project's totals: a project token may list the books, and is refused the rest (checked below).
  'GET /api/v1/prices/books',
  'POST /api/v1/prices/books',
  'GET /api/v1/finance/months',
  'POST /api/v1/finance/months',
  'GET /api/v1/finance/months/verify',
]);

describe('tenant isolation while both tenants are busy', () => {
  it('7a. a token of tenant A asking for any of tenant B\'s objects gets 404, on every route that takes a project', async () => {
    const doc = (await (await request(`${backend.url}/openapi.json`)).body.json()) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    const asked: string[] = [];
    const wrong: string[] = [];
    for (const [template, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        const method = m.toUpperCase();
        const id = `${method} ${template}`;
        if (ROUTES_WITHOUT_A_PROJECT.has(id)) continue;
        const p = template.replace('{slug}', B.project).replace('{name}', B.agent).replace('{scope}', 'project').replace('{subject}', B.project);
        const sep = p.includes('?') ? '&' : '?';
        const url = `${backend.url}${p}${method === 'GET' ? `${sep}project=${B.project}` : ''}`;
        const body = op.requestBody ? JSON.stringify(template.includes('run') ? { agent_name: B.agent, message: 'x' } : template.includes('agent') ? { name: 'x', model: 'gpt-4o' } : template.includes('budget') ? { scope: 'project', window: 'daily', limit_usd: 1, action: 'stop' } : template.includes('register') ? { name: 'w', pool: 'default' } : template.includes('tasks') ? { pool: 'default' } : template.includes('providers') ? { model: 'gpt-4o' } : {}) : undefined;
        const res = await request(url, { method: method as 'GET', headers: { authorization: `Bearer ${tokenA}`, 'x-project-id': B.project, ...(body ? { 'content-type': 'application/json' } : {}) }, body });
        const text = await res.body.text();
        asked.push(`${id} → ${res.statusCode}`);
        // POST /projects/{slug}/tokens is for unscoped principals only: 403 whatever the project.
        const expected = id === 'POST /api/v1/projects/{slug}/tokens' ? 403 : 404;
        if (res.statusCode !== expected || text.includes(B.agent) || text.includes(B.model)) wrong.push(`${id}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
      }
    }
    // Finance routes that see or change every project's money are refused to a project token.
    for (const [method, p, body] of [['POST', '/api/v1/prices/books', { text: '{}' }], ['GET', '/api/v1/finance/months', undefined], ['POST', '/api/v1/finance/months', { month: '2020-01' }], ['GET', '/api/v1/finance/months/verify', undefined]] as const) {
      const res = await request(`${backend.url}${p}`, { method, headers: { authorization: `Bearer ${tokenA}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      const text = await res.body.text();
      if (res.statusCode !== 403 || text.includes(B.project)) wrong.push(`${method} ${p} with a project token: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
    }
    // The same token on its own project's token route also gets 403 (no existence leak).
    const own = await request(`${backend.url}/api/v1/projects/${A.project}/tokens`, { method: 'POST', headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' }, body: '{}' });
    await own.body.arrayBuffer();
    // Tenant A's own agent name under B's header, and B's agent under A's header.
    const crossAgent = await request(`${backend.url}/playground/agents/${B.agent}`, { headers: { authorization: `Bearer ${tokenA}`, 'x-project-id': A.project } });
    await crossAgent.body.arrayBuffer();
    // Lists default to the token's own project.
    const scoped = new BackendClient({ baseUrl: backend.url, token: tokenA });
    const projects = await scoped.listProjects();
    const runs = await scoped.listRuns({ limit: 500 });
    const costs = await scoped.costs({ group_by: ['project'] });
    const live = await scoped.live();
    const budgets = await scoped.listBudgets();
    const tasks = await scoped.listTasks();
    const workers = await scoped.listWorkers();
    // A worker of A cannot report B's task.
    const wB = await client.fleetRegister(B.project, { name: 'b-worker', pool: 'default' });
    secrets['worker secret B'] = wB.worker_secret;
    const wA = await client.fleetRegister(A.project, { name: 'a-worker', pool: 'default' });
    secrets['worker secret A'] = wA.worker_secret;
    const taskB = await client.createTask(B.project, { pool: 'default' });
    const claimedByB = await client.fleetClaim(wB, 0);
    const report = await request(`${backend.url}/api/v1/fleet/report`, { method: 'POST', headers: { 'x-worker-id': wA.worker_id, 'x-worker-secret': wA.worker_secret, 'x-project-id': B.project, 'content-type': 'application/json' }, body: JSON.stringify({ task_id: taskB.task_id, status: 'completed' }) });
    await report.body.arrayBuffer();
    const claimA = await client.fleetClaim(wA, 0);
    await scoped.close();
    log(`isolation: ${asked.length} project routes asked for B with A's token: ${asked.join(', ')}; own-project token route ${own.statusCode}; B's agent under A ${crossAgent.statusCode}; A's worker reporting B's task ${report.statusCode}, claiming ${claimA ? 'a task' : 'nothing'}`);
    expect(asked.length).toBeGreaterThanOrEqual(15);
    expect(wrong).toEqual([]);
    expect(own.statusCode).toBe(403);
    expect(crossAgent.statusCode).toBe(404);
    expect(projects.map((p) => p.slug)).toEqual([A.project]);
    expect(runs.items.length).toBeGreaterThan(0);
    expect(new Set(runs.items.map((r) => r.project))).toEqual(new Set([A.project]));
    expect(costs.groups.map((g) => g.project)).toEqual([A.project]);
    expect(JSON.stringify(live)).not.toContain(B.project);
    expect(JSON.stringify([budgets, tasks, workers])).not.toContain(B.project);
    expect(claimedByB?.task_id).toBe(taskB.task_id);
    expect(report.statusCode).toBe(404);
    expect(claimA).toBeNull();
  });

  it('7b. cost, hud --once and audit with --project A never show B\'s numbers or events', async () => {
    // Both tenants were busy until now; stop the load so the numbers hold still, and make sure
    // VictoriaMetrics has caught up with the ledger for both.
    const busy = await load.stop();
    const rec = await reconcileExact({ client, vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, from: started, projects: [A.project, B.project] });
    expect(rec.ok).toBe(true);
    await vmForceFlush(stack.endpoints.vmUrl);
    const env: NodeJS.ProcessEnv = { ...process.env, SAGEWAI_OBS_VM_URL: stack.endpoints.vmUrl, SAGEWAI_OBS_VL_URL: stack.endpoints.vlUrl, SAGEWAI_OBS_BACKEND_URL: backend.url, SAGEWAI_OBS_TOKEN: backend.operatorToken, SAGEWAI_OBS_STATE_DIR: path.join(os.tmpdir(), 'sagewai-fault-no-state'), NO_COLOR: '1' };
    delete env.SAGEWAI_OBS_CONFIG;
    const cli = (args: string[]): Promise<CliResult> => runBuiltCli(args, env, 60_000);
    const ledger = await client.costs({ from: started, group_by: ['project'] });
    const bCost = ledger.groups.find((g) => g.project === B.project)?.cost_usd ?? 0;
    const cost = await cli(['cost', '--project', A.project, '--since', '10m', '--format', 'json']);
    const costAll = await cli(['cost', '--since', '10m', '--format', 'json']);
    const hud = await cli(['hud', '--project', A.project, '--once', '--json']);
    const audit = await cli(['audit', '--project', A.project, '--since', '10m', '--limit', '2000', '--format', 'json']);
    const auditRecords = JSON.parse(audit.stdout) as unknown;
    const events = (Array.isArray(auditRecords) ? auditRecords : ((auditRecords as { events?: unknown[] }).events ?? [])) as Array<Record<string, unknown>>;
    // B's spend as the commands would print it at full precision (short roundings such as "2.00"
    // occur in timestamps and other numbers by chance, so only distinctive spellings are checked).
    const bNumbers = [String(bCost), bCost.toFixed(6)].filter((s) => /\d\.\d{5,}/.test(s) && !/0{3,}$/.test(s));
    const ledgerA = rec.rows.find((r) => r.project === A.project)?.ledger.cost_nusd ?? -1;
    const ledgerB = rec.rows.find((r) => r.project === B.project)?.ledger.cost_nusd ?? -1;
    const costJson = JSON.parse(cost.stdout) as { project: string | null; rows: Array<{ group: string }>; total: { cost_usd: number } };
    const costAllJson = JSON.parse(costAll.stdout) as { total: { cost_usd: number } };
    const nano = (usd: number) => Math.round(usd * 1e9);
    log(`tenant CLI: ${busy.acked.length} runs of both tenants before; cost --project A total $${costJson.total.cost_usd} (ledger A $${ledgerA / 1e9}, B $${ledgerB / 1e9}, all $${costAllJson.total.cost_usd})`);
    expect(costJson.rows.map((r) => r.group)).toEqual([A.project]);
    expect(nano(costJson.total.cost_usd)).toBe(ledgerA);
    expect(nano(costAllJson.total.cost_usd)).toBe(ledgerA + ledgerB);
    log(`tenant CLI: cost exit ${cost.code} (${cost.stdout.length} B), cost (all) mentions B ${costAll.stdout.includes(B.project)}, hud exit ${hud.code} (${hud.stdout.length} B), audit exit ${audit.code}: ${events.length} events; B's ledger cost $${bCost}`);
    expect([cost.code, hud.code, audit.code]).toEqual([0, 0, 0]);
    // The control: without --project, B is there (so its absence below means something).
    expect(costAll.stdout).toContain(B.project);
    for (const [name, out] of [['cost', cost.stdout], ['hud', hud.stdout], ['audit', audit.stdout]] as const) {
      expect(out, name).toContain(A.project);
      expect(out, name).not.toContain(B.project);
      expect(out, name).not.toContain(B.agent);
      for (const n of bNumbers) expect(out, `${name} shows B's cost ${n}`).not.toContain(n);
    }
    expect(bNumbers.length).toBeGreaterThan(0);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(JSON.stringify(e)).not.toContain(B.project);
  });
});

describe('secrets and PII after example-43-like traffic', () => {
  it('8a. nothing secret or personal in VictoriaLogs or in any VictoriaMetrics label', async () => {
    // Logins that succeed and fail (with a password that must never be logged), a session token.
    const anon = new BackendClient({ baseUrl: backend.url });
    const session = await anon.login(ADMIN.email, ADMIN.password);
    secrets['session token'] = session.access_token;
    await anon.login(ADMIN.email, WRONG_PASSWORD).catch(() => undefined);
    await anon.login('someone.else@example.net', WRONG_PASSWORD).catch(() => undefined);
    await anon.close();
    const w = await client.fleetRegister(A.project, { name: 'pii-worker', pool: 'default' });
    secrets['worker secret'] = w.worker_secret;
    await client.fleetHeartbeat(w).catch(() => undefined);
    await request(`${backend.url}/api/v1/fleet/heartbeat`, { method: 'POST', headers: { 'x-worker-id': w.worker_id, 'x-worker-secret': `${w.worker_secret}x`, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.body.arrayBuffer());
    await request(`${backend.url}/api/v1/projects`, { headers: { authorization: `Bearer ${backend.operatorToken}x` } }).then((r) => r.body.arrayBuffer());
    await client.run(A.project, { agent_name: A.agent, message: `${SENTINEL_PROMPT} contact ${CUSTOMER_EMAIL}`, simulate: { fail: 'server_error' } });
    await sleep(5000); // batch + export + ingestion

    const vl = new VictoriaLogsClient(stack.endpoints.vlUrl);
    const records = await vl.query('*', { start: started, end: new Date(Date.now() + 60_000), limit: 200_000 });
    const logText = records.map((r) => JSON.stringify(r)).join('\n');

    // Every label of every series VictoriaMetrics holds for this run.
    const seriesRes = await fetch(`${stack.endpoints.vmUrl}/api/v1/series?${new URLSearchParams({ 'match[]': '{__name__!=""}', start: String(Math.floor(started.getTime() / 1000)) })}`);
    const allSeries = ((await seriesRes.json()) as { data: Array<Record<string, string>> }).data;
    const labelValues = new Map<string, { label: string; value: string; job: string; name: string }>();
    for (const s of allSeries) for (const [label, value] of Object.entries(s)) labelValues.set(`${s.job}\u0000${s.__name__}\u0000${label}\u0000${value}`, { label, value, job: s.job ?? '', name: s.__name__ ?? '' });
    // VictoriaMetrics' self-monitoring (job victoria-metrics) names the paths this run gave it:
    // its command line in flag{value} (storage dir, scrape config) and its storage dir in
    // vm_*{path}. Those are scanned for secrets, e-mail addresses and prompts like every other
    // label, but not for paths. Build paths are not exempt: with `go install -trimpath`,
    // vm_log_messages_total{location} is module-relative and go_info_ext carries no GOROOT, so a
    // build-machine path there fails the scan (docs/faults.md).
    const vmDataDir = stack.record.components['victoria-metrics'].dataDir;
    const vmSelf = (lv: { label: string; value: string; job: string; name: string }): boolean =>
      lv.job === 'victoria-metrics' && ((lv.name === 'flag' && lv.label === 'value') || (lv.label === 'path' && lv.value === vmDataDir));
    const ours = [...labelValues.values()].filter((lv) => !vmSelf(lv));
    const setAside = [...labelValues.values()].filter(vmSelf);
    const emailRe = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
    const pathRe = /(?:^|[\s"'=(])(\/(?:home|root|tmp|work|Users|usr|var|opt|srv)\/[^\s"')]*)/g;
    const findings: string[] = [];
    const scan = (where: string, text: string, paths = true): void => {
      for (const [name, value] of Object.entries(secrets)) if (value && text.includes(value)) findings.push(`${where}: ${name}`);
      for (const s of [SENTINEL_PROMPT, SENTINEL_SYSTEM, 'RAW-PROMPT-7f3a9c', 'SYSTEM-PROMPT-51be02']) if (text.includes(s)) findings.push(`${where}: raw prompt text "${s}"`);
      for (const m of text.match(emailRe) ?? []) findings.push(`${where}: e-mail address ${m}`);
      if (!paths) return;
      for (const m of text.matchAll(pathRe)) findings.push(`${where}: absolute path ${m[1]}`);
      if (text.includes(packageRoot())) findings.push(`${where}: the package's absolute path`);
    };
    scan('VictoriaLogs', logText);
    for (const lv of ours) scan(`VictoriaMetrics ${lv.job}/${lv.name}{${lv.label}}`, lv.value);
    for (const lv of setAside) scan(`VictoriaMetrics ${lv.job}/${lv.name}{${lv.label}}`, lv.value, false);
    const auditCount = records.filter((r) => r['event.name']).length;
    log(`secrets: scanned ${records.length} VictoriaLogs records (${auditCount} audit events, ${logText.length} chars) and ${labelValues.size} label values of ${allSeries.length} series (${setAside.length} VictoriaMetrics self-monitoring values set aside, ${setAside.filter((lv) => lv.value.includes('/')).length} of them paths); findings ${findings.length}${findings.length ? `: ${findings.slice(0, 20).join('; ')}` : ''}`);
    // The scan saw real traffic: logins, runs of both tenants, the failed heartbeat.
    expect(records.some((r) => r['event.name'] === 'auth.login.failed')).toBe(true);
    expect(records.some((r) => r['event.name'] === 'agent.run.completed' && r['sagewai.project_id'] === B.project)).toBe(true);
    expect(ours.some((lv) => lv.label === 'sagewai_project_id' && lv.value === A.project)).toBe(true);
    expect(findings).toEqual([]);
  });

  it('8b. every listening socket of the stack and the backend is on loopback', () => {
    const record = readStackRecord(stack.stateDir);
    const pids = [...Object.values(record?.components ?? {}).map((c) => c.pid), backend.pid].filter((p): p is number => typeof p === 'number');
    const sockets = listeningSockets(pids);
    log(`sockets: ${sockets.map((s) => `${s.pid}:${s.address}:${s.port}`).join(', ')}`);
    expect(pids).toHaveLength(5); // collector, VictoriaMetrics, VictoriaLogs, vmalert, the backend
    for (const pid of pids) expect(sockets.filter((s) => s.pid === pid).length, `pid ${pid} listens`).toBeGreaterThan(0);
    expect(sockets.filter((s) => !isLoopback(s))).toEqual([]);
  });
});
