import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, migratePostgres } from '../src/backend/migrations.js';
import { spawnBackend } from '../src/backend/spawn.js';
import { openStore } from '../src/backend/store.js';
import { freePort } from '../src/stack/ports.js';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';

// Versioned migrations on both engines and serve's bad-input rules for --database: a database at
// a newer schema refuses to start (exit 2), a failed migration leaves nothing behind, a wrong or
// unreachable URL is exit 2 with Try this.
let server: TestPostgres;
const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-migrate-'));
  dirs.push(d);
  return d;
};

/** serve's exit and its stderr when it fails to start; 'started' when it did (then stopped). */
async function serveOutcome(args: string[], dataDir = tmp()): Promise<string> {
  return spawnBackend({ dataDir, args, env: { OTEL_SDK_DISABLED: 'true' }, timeoutMs: 20_000 }).then(
    async (b) => {
      await b.stop();
      return 'started';
    },
    (err: Error) => err.message,
  );
}

async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function freshDatabase(name: string): Promise<string> {
  await withDb(server.url, (c) => c.query(`CREATE DATABASE ${name}`));
  return server.url.replace(/\/sagewai$/, `/${name}`);
}


/** A database as release 3 left it: migrations 1–3 applied and recorded, nothing of 4. */
const V3_MIGRATIONS = MIGRATIONS.filter((m) => m.version <= 3);
const SCHEMA_MIGRATIONS_TABLE = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';
const V3_LEDGER_ROW = "INSERT INTO ledger (run_id, project, agent, provider, model, input_tokens, cached_input_tokens, output_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, pricebook_version, priced, created_at, writer) VALUES ('run_v3', 'acme', 'bot', 'openai', 'gpt-4o', 10, 4, 5, 80000, 25000, 5000, 50000, 'v1', 1, 1, 'w1')";
const V3_RUN_ROW = "INSERT INTO runs (id, project, agent, model, status, started_at, completed_at, input_tokens, cached_input_tokens, output_tokens, cost_nusd) VALUES ('run_v3', 'acme', 'bot', 'gpt-4o', 'completed', 1, 2, 10, 4, 5, 80000)";

beforeAll(async () => {
  server = await startTestPostgres();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('SQLite migrations', () => {
  it('a database from before versioned migrations upgrades in place, its rows kept', () => {
    const dir = tmp();
    const old = new Database(path.join(dir, 'sagewai.db'));
    // The first table layout, as `CREATE TABLE IF NOT EXISTS` left it, with a ledger row in it.
    old.exec(MIGRATIONS[0]?.sqlite as string);
    old.prepare("INSERT INTO projects (slug, name, environment, status, created_at) VALUES ('acme', 'Acme', 'prod', 'active', 1)").run();
    old.prepare("INSERT INTO ledger (run_id, project, agent, provider, model, input_tokens, cached_input_tokens, output_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, pricebook_version, priced, created_at) VALUES ('run_1', 'acme', 'bot', 'openai', 'gpt-4o', 10, 0, 5, 12345, 10000, 0, 2345, 'v1', 1, 1)").run();
    old.close();
    const s = openStore(dir);
    try {
      expect(s.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => (r as { version: number }).version)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(s.db.prepare('SELECT cost_nusd, writer FROM ledger').all()).toEqual([{ cost_nusd: 12345, writer: null }]);
      expect(s.db.prepare('SELECT slug FROM projects').all()).toEqual([{ slug: 'acme' }]);
    } finally {
      s.db.close();
    }
    // Opening again applies nothing twice.
    const again = openStore(dir);
    expect((again.db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(SCHEMA_VERSION);
    again.db.close();
  });

  it('a version 3 database gets the reasoning columns (migration 4), its rows at 0 reasoning and their cost parts still summing', () => {
    const dir = tmp();
    const old = new Database(path.join(dir, 'sagewai.db'));
    old.exec(SCHEMA_MIGRATIONS_TABLE);
    for (const m of V3_MIGRATIONS) {
      old.exec(m.sqlite);
      old.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 1);
    }
    old.exec(V3_LEDGER_ROW);
    old.exec(V3_RUN_ROW);
    expect(() => old.prepare('SELECT reasoning_tokens FROM ledger').all()).toThrow(/no such column/);
    old.close();
    const s = openStore(dir);
    try {
      expect((s.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v).toBe(SCHEMA_VERSION);
      expect(s.db.prepare('SELECT reasoning_tokens, reasoning_cost_nusd, cost_nusd, input_cost_nusd + cached_cost_nusd + output_cost_nusd + reasoning_cost_nusd AS parts FROM ledger').all()).toEqual([{ reasoning_tokens: 0, reasoning_cost_nusd: 0, cost_nusd: 80000, parts: 80000 }]);
      expect(s.db.prepare('SELECT reasoning_tokens FROM runs').all()).toEqual([{ reasoning_tokens: 0 }]);
    } finally {
      s.db.close();
    }
  });

  it('a version 4 database gets trigger-kept totals (migration 5) equal to the ledger and runs, and they stay equal through inserts, updates and deletes', () => {
    const dir = tmp();
    const old = new Database(path.join(dir, 'sagewai.db'));
    old.exec(SCHEMA_MIGRATIONS_TABLE);
    for (const m of MIGRATIONS.filter((x) => x.version <= 4)) {
      old.exec(m.sqlite);
      old.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 1);
    }
    const ledgerRow = old.prepare("INSERT INTO ledger (run_id, project, agent, provider, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, reasoning_cost_nusd, pricebook_version, priced, created_at) VALUES (?, ?, ?, 'openai', ?, ?, 3, 5, ?, ?, ?, 7, 11, ?, 'v1', ?, ?)");
    const runRow = old.prepare("INSERT INTO runs (id, project, agent, model, status, started_at) VALUES (?, ?, ?, 'gpt-4o', ?, 1)");
    const projects = ['acme', 'beta'];
    const agents = ['bot', 'helper'];
    const statuses = ['completed', 'error', 'denied', 'running'];
    for (let i = 0; i < 60; i++) {
      const [p, a, m] = [projects[i % 2], agents[i % 3 === 0 ? 1 : 0], i % 5 === 0 ? 'gpt-4o-mini' : 'gpt-4o'];
      ledgerRow.run(`r${i}`, p, a, m, 100 + i, i % 4, 1000 + i * 7, 900 + i * 7, 13 * (i % 4), i % 7 === 0 ? 0 : 1, i);
      runRow.run(`r${i}`, p, a, statuses[i % 4]);
    }
    old.close();
    const s = openStore(dir);
    const sums = 'SUM(cost_nusd) AS cost, SUM(input_cost_nusd) AS cost_input, SUM(cached_cost_nusd) AS cost_cached, SUM(output_cost_nusd) AS cost_output, SUM(reasoning_cost_nusd) AS cost_reasoning, SUM(input_tokens) AS input, SUM(cached_input_tokens) AS cached, SUM(output_tokens) AS output, SUM(reasoning_tokens) AS reasoning, COUNT(*) AS calls';
    const key = 'project, agent, provider, model, priced, pricebook_version';
    const same = (): void => {
      expect(s.db.prepare(`SELECT ${key}, cost, cost_input, cost_cached, cost_output, cost_reasoning, input, cached, output, reasoning, calls FROM ledger_totals WHERE calls != 0 ORDER BY ${key}`).all()).toEqual(s.db.prepare(`SELECT ${key}, ${sums} FROM ledger GROUP BY ${key} ORDER BY ${key}`).all());
      expect(s.db.prepare('SELECT project, agent, status, n FROM run_counts WHERE n != 0 ORDER BY project, agent, status').all()).toEqual(s.db.prepare('SELECT project, agent, status, COUNT(*) AS n FROM runs GROUP BY project, agent, status ORDER BY project, agent, status').all());
    };
    try {
      expect((s.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v).toBe(SCHEMA_VERSION);
      expect((s.db.prepare('SELECT COUNT(*) AS n FROM ledger_totals').get() as { n: number }).n).toBeGreaterThan(4);
      same();
      s.db.prepare("UPDATE runs SET status = 'completed' WHERE status = 'running'").run();
      s.db.prepare("UPDATE ledger SET cost_nusd = cost_nusd + 5, output_cost_nusd = output_cost_nusd + 5, model = 'gpt-4.1' WHERE id % 6 = 0").run();
      s.db.prepare('DELETE FROM ledger WHERE id % 9 = 0').run();
      s.db.prepare("DELETE FROM runs WHERE id IN ('r1', 'r2')").run();
      same();
    } finally {
      s.db.close();
    }
  });

  it('serve refuses a SQLite database at a newer schema version: exit 2, names both versions', async () => {
    const dir = tmp();
    openStore(dir).db.close();
    const db = new Database(path.join(dir, 'sagewai.db'));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(SCHEMA_VERSION + 1, 'from the future', Date.now());
    db.close();
    const out = await serveOutcome([], dir);
    expect(out).toContain('exited (code 2)');
    expect(out).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than this sagewai-obs knows (${SCHEMA_VERSION})`);
    expect(out).toContain('Try this');
  });
});

describe('PostgreSQL migrations', () => {
  it('serve migrates an empty database to the current version; a second start applies nothing', async () => {
    const url = await freshDatabase('fresh');
    expect(await serveOutcome(['--database', url])).toBe('started');
    expect(await serveOutcome(['--database', url])).toBe('started');
    const versions = await withDb(url, async (c) => (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version));
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('refuses a database at a newer schema version: exit 2 with Try this, nothing written', async () => {
    const url = await freshDatabase('future');
    expect(await serveOutcome(['--database', url])).toBe('started');
    await withDb(url, (c) => c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [SCHEMA_VERSION + 1, 'from the future', Date.now()]));
    const tokensBefore = await withDb(url, async (c) => (await c.query('SELECT COUNT(*)::int AS n FROM tokens')).rows[0]);
    const out = await serveOutcome(['--database', url]);
    expect(out).toContain('exited (code 2)');
    expect(out).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than this sagewai-obs knows (${SCHEMA_VERSION})`);
    expect(out).toContain('Try this');
    expect(await withDb(url, async (c) => (await c.query('SELECT COUNT(*)::int AS n FROM tokens')).rows[0])).toEqual(tokensBefore);
  });

  it('a version 3 database gets the reasoning columns (migration 4), its rows at 0 reasoning', async () => {
    const url = await freshDatabase('from_v3');
    const applied = await withDb(url, async (c) => {
      await c.query(SCHEMA_MIGRATIONS_TABLE);
      for (const m of V3_MIGRATIONS) {
        await c.query(m.postgres);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, 1]);
      }
      await c.query(V3_LEDGER_ROW);
      await c.query(V3_RUN_ROW);
      return migratePostgres(c);
    });
    expect(applied).toEqual(MIGRATIONS.filter((m) => m.version > 3).map((m) => m.version));
    const rows = await withDb(url, async (c) => ({
      ledger: (await c.query('SELECT reasoning_tokens::int AS r, reasoning_cost_nusd::int AS rc, (input_cost_nusd + cached_cost_nusd + output_cost_nusd + reasoning_cost_nusd)::int AS parts, cost_nusd::int AS cost FROM ledger')).rows,
      runs: (await c.query('SELECT reasoning_tokens::int AS r FROM runs')).rows,
    }));
    expect(rows).toEqual({ ledger: [{ r: 0, rc: 0, parts: 80000, cost: 80000 }], runs: [{ r: 0 }] });
    // And serve starts on it, applying nothing more.
    expect(await serveOutcome(['--database', url])).toBe('started');
  });

  it('migration 4 failing half-way is rolled back whole: the database stays at version 3, no column of it left', async () => {
    const url = await freshDatabase('v3_clash');
    const err = await withDb(url, async (c) => {
      await c.query(SCHEMA_MIGRATIONS_TABLE);
      for (const m of V3_MIGRATIONS) {
        await c.query(m.postgres);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, 1]);
      }
      // Something in the way of migration 4's second statement (its first, on runs, succeeds).
      await c.query('ALTER TABLE ledger ADD COLUMN reasoning_tokens TEXT');
      return migratePostgres(c).then(() => null, (e: Error) => e.message);
    });
    expect(err).toContain('migration 4 (reasoning tokens) failed and was rolled back');
    const state = await withDb(url, async (c) => ({
      version: (await c.query('SELECT MAX(version)::int AS v FROM schema_migrations')).rows[0],
      columns: (await c.query<{ t: string; c: string }>("SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE column_name LIKE 'reasoning%' ORDER BY 1, 2")).rows,
    }));
    expect(state).toEqual({ version: { v: 3 }, columns: [{ t: 'ledger', c: 'reasoning_tokens' }] });
  });

  it('a migration that fails is rolled back whole: no table of it, no version recorded', async () => {
    const url = await freshDatabase('clash');
    // A foreign table in the way of the base schema's `workers`, created after several of its tables.
    await withDb(url, (c) => c.query('CREATE TABLE workers (something_else int)'));
    const out = await serveOutcome(['--database', url]);
    expect(out).toContain('exited (code 2)');
    expect(out).toContain('migration 1 (base schema) failed and was rolled back');
    const state = await withDb(url, async (c) => ({
      tables: (await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.t),
      versions: (await c.query('SELECT COUNT(*)::int AS n FROM schema_migrations')).rows[0],
    }));
    expect(state.tables).toEqual(['schema_migrations', 'workers']);
    expect(state.versions).toEqual({ n: 0 });
  });
});

describe('serve --database: bad input is exit 2 with Try this', () => {
  it('a URL that is not postgres://', async () => {
    const out = await serveOutcome(['--database', 'mysql://root@127.0.0.1/x']);
    expect(out).toContain('exited (code 2)');
    expect(out).toContain('the scheme must be postgres://');
    expect(out).toContain('Try this');
  });

  it('an unreachable server (nothing listens on the port), with the password redacted', async () => {
    const port = await freePort();
    const out = await serveOutcome(['--database', `postgres://sagewai:hunter2@127.0.0.1:${port}/sagewai`]);
    expect(out).toContain('exited (code 2)');
    expect(out).toContain(`cannot use the database postgres://sagewai:***@127.0.0.1:${port}/sagewai`);
    expect(out).not.toContain('hunter2');
    expect(out).toContain('Try this');
  });

  it('a database that does not exist on a running server', async () => {
    const out = await serveOutcome(['--database', server.url.replace(/\/sagewai$/, '/no_such_db')]);
    expect(out).toContain('exited (code 2)');
    expect(out).toMatch(/database "no_such_db" does not exist/);
  });

  it('an instance id a live replica already holds', async () => {
    const url = await freshDatabase('twins');
    const first = await spawnBackend({ dataDir: tmp(), args: ['--database', url, '--instance-id', 'twin'], env: { OTEL_SDK_DISABLED: 'true' } });
    try {
      const out = await serveOutcome(['--database', url, '--instance-id', 'twin']);
      expect(out).toContain('exited (code 2)');
      expect(out).toContain('another running serve already uses the instance id twin');
    } finally {
      await first.stop();
    }
    // Once it is gone, the id is free again.
    expect(await serveOutcome(['--database', url, '--instance-id', 'twin'])).toBe('started');
  });

  it('--instance-id without --database', async () => {
    const out = await serveOutcome(['--instance-id', 'x']);
    expect(out).toContain('exited (code 2)');
    expect(out).toContain('--instance-id names a replica on a shared PostgreSQL database');
  });
});
