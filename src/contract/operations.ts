import type { z } from 'zod';
import * as req from './requests.js';
import * as res from './responses.js';

/**
 * Every operation of the admin backend, once: method, path, area, who may call it, which project
 * it is about, its request (body, query) and its answers (status → body). The server binds a
 * handler to each entry, /openapi.json is rendered from this table (src/contract/openapi.ts), the
 * client and the HUD import the same schemas' types, and the conformance test drives every entry.
 *
 * Answers every operation of a kind shares are not repeated here: `responsesOf(op)` adds 401/403/
 * 503 from `auth`, 400/413/415/422 from `body`, 400/404 from `tenant`. A query parameter the
 * handler can refuse is listed as the operation's own 400.
 */
export type Method = 'GET' | 'POST' | 'DELETE';
export type Area = 'meta' | 'auth' | 'projects' | 'agents' | 'runs' | 'fleet' | 'budgets' | 'analytics' | 'live' | 'finance';
/** none: public; user: bearer token or session cookie; worker: X-Worker-Id + X-Worker-Secret. */
export type Auth = 'none' | 'user' | 'worker';
/** required: X-Project-ID names the project (400 without, 404 when not visible); optional: header or ?project= filter. */
export type Tenant = 'none' | 'required' | 'optional';

export interface ResponseSpec {
  description: string;
  /** JSON body; absent for 204. */
  schema?: z.ZodTypeAny;
  /** For text/event-stream answers: event name → data schema. */
  events?: Readonly<Record<string, z.ZodTypeAny>>;
  /** Response headers worth documenting (name → description). */
  headers?: Readonly<Record<string, string>>;
}

export interface Operation {
  readonly id: string;
  readonly method: Method;
  readonly path: string;
  readonly area: Area;
  readonly auth: Auth;
  readonly tenant: Tenant;
  readonly summary: string;
  readonly body?: z.ZodTypeAny;
  readonly query?: z.AnyZodObject;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** false: probes, neither counted in the HTTP metrics nor traced. */
  readonly instrument?: boolean;
}

const op = <const O extends Operation>(o: O): O => o;
const json = <Z extends z.ZodTypeAny>(description: string, schema: Z): { description: string; schema: Z } => ({ description, schema });
const err = (description: string, headers?: Record<string, string>): ResponseSpec => ({ description, schema: res.errorBody, ...(headers ? { headers } : {}) });
const notFound = (what: string): ResponseSpec => err(`${what} not found (or not visible to this token)`);

export const operations = {
  setupStatus: op({ id: 'setupStatus', method: 'GET', path: '/api/v1/setup/status', area: 'auth', auth: 'none', tenant: 'none', summary: 'Is first-run setup still required?', responses: { 200: json('Setup state', res.setupStatus) } }),
  setup: op({ id: 'setup', method: 'POST', path: '/api/v1/setup', area: 'auth', auth: 'none', tenant: 'none', summary: 'First-run setup: organisation and admin user (409 once done)', body: req.setupBody, responses: { 201: json('Organisation and admin user created', res.setupResult), 409: err('setup was already completed') } }),
  login: op({
    id: 'login',
    method: 'POST',
    path: '/api/v1/auth/login',
    area: 'auth',
    auth: 'none',
    tenant: 'none',
    summary: 'Log in: bearer access_token plus HttpOnly session cookie and CSRF cookie',
    body: req.loginBody,
    responses: {
      200: { description: 'Logged in', schema: res.loginResult, headers: { 'Set-Cookie': 'sagewai_session (HttpOnly) and sagewai_csrf cookies' } },
      401: err('wrong e-mail or password'),
      429: err('too many failed logins from this address for this e-mail; wait', { 'Retry-After': 'seconds to wait' }),
    },
  }),
  me: op({ id: 'me', method: 'GET', path: '/api/v1/auth/me', area: 'auth', auth: 'user', tenant: 'none', summary: 'The caller', responses: { 200: json('The caller and its token', res.me) } }),
  logout: op({ id: 'logout', method: 'POST', path: '/api/v1/auth/logout', area: 'auth', auth: 'user', tenant: 'none', summary: 'End the session', responses: { 200: { description: 'Session ended; cookies cleared', schema: res.ok, headers: { 'Set-Cookie': 'expired session and CSRF cookies' } } } }),

  listProjects: op({ id: 'listProjects', method: 'GET', path: '/api/v1/projects', area: 'projects', auth: 'user', tenant: 'none', summary: 'List projects visible to the caller', responses: { 200: json('Projects', res.projectList) } }),
  createProject: op({ id: 'createProject', method: 'POST', path: '/api/v1/projects', area: 'projects', auth: 'user', tenant: 'none', summary: 'Create a project (409 on a duplicate slug)', body: req.projectBody, responses: { 201: json('Created', res.project), 403: err('a project-scoped token cannot create projects (or the CSRF check failed)'), 409: err('a project with this slug exists') } }),
  getProject: op({ id: 'getProject', method: 'GET', path: '/api/v1/projects/{slug}', area: 'projects', auth: 'user', tenant: 'none', summary: 'One project (404 unknown)', responses: { 200: json('The project', res.project), 404: notFound('project') } }),
  createProjectToken: op({ id: 'createProjectToken', method: 'POST', path: '/api/v1/projects/{slug}/tokens', area: 'projects', auth: 'user', tenant: 'none', summary: 'Create a bearer token scoped to one project', body: req.projectTokenBody, responses: { 201: json('The token (shown once)', res.projectToken), 403: err('a project-scoped token cannot mint tokens (or the CSRF check failed)'), 404: notFound('project') } }),

  createAgent: op({ id: 'createAgent', method: 'POST', path: '/playground/agent', area: 'agents', auth: 'user', tenant: 'required', summary: 'Create an agent in the X-Project-ID project', body: req.agentBody, responses: { 201: json('Created', res.agent), 409: err('an agent with this name exists in the project') } }),
  listAgents: op({ id: 'listAgents', method: 'GET', path: '/playground/agents', area: 'agents', auth: 'user', tenant: 'required', summary: 'Agents of the X-Project-ID project', responses: { 200: json('Agents', res.agentList) } }),
  getAgent: op({ id: 'getAgent', method: 'GET', path: '/playground/agents/{name}', area: 'agents', auth: 'user', tenant: 'required', summary: 'One agent', responses: { 200: json('The agent', res.agent), 404: notFound('project or agent') } }),

  run: op({
    id: 'run',
    method: 'POST',
    path: '/playground/run',
    area: 'runs',
    auth: 'user',
    tenant: 'required',
    summary: 'Run an agent; answers text/event-stream (run_started, text_message_content…, run_finished); 402 on a budget stop',
    body: req.runBody,
    responses: {
      200: { description: 'The run as server-sent events: run_started, budget_warning*, text_message_content*, run_error?, run_finished (last)', events: res.runEvents },
      402: err('a stop budget leaves no room for this call', { 'Retry-After': 'seconds until the budget window resets' }),
      404: notFound('project or agent'),
    },
  }),
  testProvider: op({ id: 'testProvider', method: 'POST', path: '/api/v1/providers/test', area: 'runs', auth: 'user', tenant: 'optional', summary: 'Check the (simulated) provider for a model; audited as provider.test.success|failed', body: req.providerTestBody, responses: { 200: json('The check (ok false when the provider failed)', res.providerTest) } }),
  listRuns: op({ id: 'listRuns', method: 'GET', path: '/admin/runs', area: 'runs', auth: 'user', tenant: 'optional', summary: 'Runs, newest first: ?agent_name&status&limit&offset', query: req.runsQuery, responses: { 200: json('A page of runs', res.runList), 400: err('limit or offset is not a whole number in range') } }),

  registerWorker: op({ id: 'registerWorker', method: 'POST', path: '/api/v1/fleet/register', area: 'fleet', auth: 'user', tenant: 'required', summary: 'Register a worker in the X-Project-ID project', body: req.registerBody, responses: { 201: json('The worker and its secret (shown once)', res.registeredWorker) } }),
  heartbeat: op({ id: 'heartbeat', method: 'POST', path: '/api/v1/fleet/heartbeat', area: 'fleet', auth: 'worker', tenant: 'none', summary: 'Worker heartbeat', body: req.heartbeatBody, responses: { 200: json('Recorded', res.heartbeat) } }),
  claim: op({ id: 'claim', method: 'POST', path: '/api/v1/fleet/claim', area: 'fleet', auth: 'worker', tenant: 'none', summary: "Long-poll for a task of the worker's project and pool (204 when none)", body: req.claimBody, responses: { 200: json('The claimed task (taken by this worker only)', res.task), 204: { description: 'No task arrived within wait_ms' } } }),
  report: op({ id: 'report', method: 'POST', path: '/api/v1/fleet/report', area: 'fleet', auth: 'worker', tenant: 'none', summary: "Report a claimed task's outcome", body: req.reportBody, responses: { 200: json('Recorded', res.taskReported), 404: notFound('task (of this worker)'), 409: err('the task was already reported') } }),
  createTask: op({ id: 'createTask', method: 'POST', path: '/api/v1/fleet/tasks', area: 'fleet', auth: 'user', tenant: 'required', summary: 'Enqueue a task in the X-Project-ID project', body: req.taskBody, responses: { 201: json('Queued', res.task) } }),
  listTasks: op({ id: 'listTasks', method: 'GET', path: '/api/v1/fleet/tasks', area: 'fleet', auth: 'user', tenant: 'optional', summary: 'Tasks (optionally ?status=), newest first, at most 500', query: req.tasksQuery, responses: { 200: json('Tasks', res.taskList) } }),
  listWorkers: op({ id: 'listWorkers', method: 'GET', path: '/api/v1/fleet/workers', area: 'fleet', auth: 'user', tenant: 'optional', summary: 'Workers', query: req.tenantQuery, responses: { 200: json('Workers', res.workerList) } }),

  health: op({ id: 'health', method: 'GET', path: '/api/v1/health/summary', area: 'meta', auth: 'none', tenant: 'none', summary: 'Public health summary', responses: { 200: json('Health and counts', res.health) } }),
  costs: op({ id: 'costs', method: 'GET', path: '/api/v1/analytics/costs', area: 'analytics', auth: 'user', tenant: 'optional', summary: 'Cost totals from the ledger: ?from&to (ISO) &group_by=project,model,agent,provider,token_type', query: req.costsQuery, responses: { 200: json('Totals and groups', res.costReport), 400: err('from/to not a time, `to` before `from`, or an unknown group_by key') } }),
  live: op({ id: 'live', method: 'GET', path: '/api/v1/live', area: 'live', auth: 'user', tenant: 'optional', summary: 'Live state for the HUD: agents, runs and tasks in flight, workers', query: req.tenantQuery, responses: { 200: json('Live state', res.liveState) } }),

  listBudgets: op({ id: 'listBudgets', method: 'GET', path: '/api/v1/budget/limits', area: 'budgets', auth: 'user', tenant: 'optional', summary: 'Budget limits', query: req.tenantQuery, responses: { 200: json('Limits', res.budgetLimitList) } }),
  setBudget: op({ id: 'setBudget', method: 'POST', path: '/api/v1/budget/limits', area: 'budgets', auth: 'user', tenant: 'required', summary: 'Create or replace a budget limit in the X-Project-ID project', body: req.budgetBody, responses: { 201: json('The limit (replaced when scope, subject and window match one)', res.budgetLimit) } }),
  deleteBudget: op({ id: 'deleteBudget', method: 'DELETE', path: '/api/v1/budget/limits/{id}', area: 'budgets', auth: 'user', tenant: 'required', summary: 'Delete a budget limit of the X-Project-ID project; audited as budget.deleted', responses: { 204: { description: 'Deleted' }, 404: notFound('project or budget limit') } }),
  budgetStatus: op({ id: 'budgetStatus', method: 'GET', path: '/api/v1/budget/status', area: 'budgets', auth: 'user', tenant: 'optional', summary: 'Budget status: spend, reservations, utilisation, reset time', query: req.tenantQuery, responses: { 200: json('Status per limit', res.budgetStatusList) } }),
  budgetStatusByScope: op({ id: 'budgetStatusByScope', method: 'GET', path: '/api/v1/budget/status/{scope}', area: 'budgets', auth: 'user', tenant: 'optional', summary: 'Budget status for one scope', query: req.tenantQuery, responses: { 200: json('Status per limit', res.budgetStatusList), 404: notFound('scope (project, team or user)') } }),
  budgetStatusBySubject: op({ id: 'budgetStatusBySubject', method: 'GET', path: '/api/v1/budget/status/{scope}/{subject}', area: 'budgets', auth: 'user', tenant: 'optional', summary: 'Budget status for one subject', query: req.tenantQuery, responses: { 200: json('Status per limit', res.budgetStatusList), 404: notFound('scope (project, team or user)') } }),

  listPriceBooks: op({ id: 'listPriceBooks', method: 'GET', path: '/api/v1/prices/books', area: 'finance', auth: 'user', tenant: 'none', summary: 'Price books loaded, each with the time it took (or takes) effect', responses: { 200: json('Price books, oldest first', res.priceBookList) } }),
  importPriceBook: op({
    id: 'importPriceBook',
    method: 'POST',
    path: '/api/v1/prices/books',
    area: 'finance',
    auth: 'user',
    tenant: 'none',
    summary: 'Import a price book (the file text) that takes effect at its effective_from, now or later; errors name the line',
    body: req.priceBookImportBody,
    responses: {
      201: json('Imported; calls from effective_from on are priced by it', res.priceBookImported),
      403: err('a project-scoped token cannot import price books (or the CSRF check failed)'),
      409: err('the book would re-price the past: effective_from in the past, not after the loaded books, inside a closed month, or a version already loaded (error.line names the line)'),
      422: err('the book is not valid: a price with more than three decimals, overlapping dates, an unknown currency, a model priced twice for one date (error.line names the line)'),
    },
  }),
  listClosedMonths: op({ id: 'listClosedMonths', method: 'GET', path: '/api/v1/finance/months', area: 'finance', auth: 'user', tenant: 'none', summary: 'Closed months with their totals per project and model and their hash chain', responses: { 200: json('Closed months, oldest first', res.closedMonthList), 403: err('a project-scoped token cannot read every project\'s totals') } }),
  closeMonth: op({
    id: 'closeMonth',
    method: 'POST',
    path: '/api/v1/finance/months',
    area: 'finance',
    auth: 'user',
    tenant: 'none',
    summary: "Close a month: freeze its ledger totals per project and model under a hash that covers the previous closed month's",
    body: req.closeMonthBody,
    responses: { 201: json('Closed', res.closedMonth), 403: err('a project-scoped token cannot close months (or the CSRF check failed)'), 409: err('the month is not over, already closed, or before the last closed month'), 422: err('month is not YYYY-MM') },
  }),
  verifyClosedMonths: op({ id: 'verifyClosedMonths', method: 'GET', path: '/api/v1/finance/months/verify', area: 'finance', auth: 'user', tenant: 'none', summary: 'Check every closed month against its hash, the chain and the ledger as it is now', responses: { 200: json('One check per closed month', res.closedMonthChecks), 403: err('a project-scoped token cannot read every project\'s totals') } }),

  openapi: op({ id: 'openapi', method: 'GET', path: '/openapi.json', area: 'meta', auth: 'none', tenant: 'none', summary: 'This document', responses: { 200: json('OpenAPI 3.1 document', res.openApiDocument) } }),
  healthz: op({ id: 'healthz', method: 'GET', path: '/healthz', area: 'meta', auth: 'none', tenant: 'none', summary: 'Liveness', instrument: false, responses: { 200: json('Alive', res.probe) } }),
  readyz: op({ id: 'readyz', method: 'GET', path: '/readyz', area: 'meta', auth: 'none', tenant: 'none', summary: 'Readiness (the database answers)', instrument: false, responses: { 200: json('Ready', res.probe) } }),
} as const;

export type OperationId = keyof typeof operations;

/** Path parameter names of a template, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
}

/** Every answer an operation can give: its own plus those its auth, body, query and tenant imply. */
export function responsesOf(o: Operation): Record<number, ResponseSpec> {
  const out: Record<number, ResponseSpec> = {};
  const add = (status: number, spec: ResponseSpec): void => {
    out[status] ??= spec;
  };
  for (const [s, spec] of Object.entries(o.responses)) out[Number(s)] = spec;
  if (o.body) {
    add(400, err('malformed JSON body'));
    add(413, err('request body larger than the limit (default 1 MiB)'));
    add(415, err('the body is not application/json'));
    add(422, err('the body does not match the schema (error.issues lists each problem)'));
  }
  if (o.query) add(400, err('a query parameter outside its documented values (error.issues lists each)'));
  if (o.tenant === 'required') {
    add(400, err('the X-Project-ID header is missing'));
    add(404, notFound('project'));
  }
  if (o.tenant === 'optional') {
    add(400, err('the X-Project-ID header is present but empty'));
    add(404, notFound('project'));
  }
  if (o.auth === 'user') {
    add(401, err('no valid bearer token or session cookie', { 'WWW-Authenticate': 'Bearer' }));
    if (o.method !== 'GET') add(403, err('cookie-authenticated changes need X-CSRF-Token (the sagewai_csrf cookie value)'));
  }
  if (o.auth === 'worker') add(401, err('missing or wrong X-Worker-Id / X-Worker-Secret'));
  if (o.auth !== 'none') add(503, err('the backend is shutting down; retry', { 'Retry-After': 'seconds' }));
  return out;
}

/** Methods served on each path (the Allow header of 405 and OPTIONS answers). */
export function allowedMethods(): Map<string, Method[]> {
  const out = new Map<string, Method[]>();
  for (const o of Object.values(operations) as Operation[]) {
    const list = out.get(o.path) ?? [];
    list.push(o.method);
    out.set(o.path, list);
  }
  return out;
}
