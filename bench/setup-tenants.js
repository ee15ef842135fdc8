/**
 * Example 43's organisation on a fresh backend: its three tenants, four agents each, daily
 * project budgets (warn; `budgets: false` leaves them out) and eight fleet workers. Returns what bench/load.js needs.
 */
import { api } from './lib.js';

const ROLES = ['triager', 'drafter', 'escalator', 'summariser'];

export async function setupTenants(backend, { budgets = true } = {}) {
  const { TENANTS } = await import('../dist/examples/ex43-observatory-live.js');
  const call = (method, p, opts) => api(backend.url, backend.token, method, p, opts);
  const tenants = [];
  const workers = [];
  for (const t of TENANTS) {
    await call('POST', '/api/v1/projects', { body: { slug: t.slug, name: t.name, environment: 'production' } });
    const agents = [];
    for (const role of ROLES) {
      const name = `${t.slug}-${role}`;
      await call('POST', '/playground/agent', { project: t.slug, body: { name, model: t.model, system_prompt: `You are the ${role} of ${t.name}.`, strategy: 'direct', temperature: 0.2, tools: [], metadata: { role } } });
      agents.push(name);
    }
    // A large warn-only budget: the budget path runs on every call, but nothing is refused.
    if (budgets) await call('POST', '/api/v1/budget/limits', { project: t.slug, body: { scope: 'project', subject: t.slug, window: 'daily', limit_usd: 1_000_000, action: 'warn' } });
    for (let i = 1; i <= t.workers; i++) {
      const reg = await call('POST', '/api/v1/fleet/register', { project: t.slug, body: { name: `${t.slug}-worker-${i}`, models: [t.model], pool: t.pool, labels: { tenant: t.slug }, max_concurrent: 1 } });
      workers.push({ worker_id: reg.worker_id, worker_secret: reg.worker_secret });
    }
    tenants.push({ slug: t.slug, pool: t.pool, model: t.model, agents });
  }
  return { tenants, workers };
}
