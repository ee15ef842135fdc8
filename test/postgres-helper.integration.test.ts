import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';

// The PostgreSQL the store tests will run on: a real server, not root, loopback only, survives a restart.
let server: TestPostgres;
beforeAll(async () => {
  server = await startTestPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe('test PostgreSQL', () => {
  it('is a real server on loopback, not run as root, and keeps data across a restart', async () => {
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    const who = await c.query<{ version: string; addr: string | null; superuser: string }>("SELECT version() AS version, inet_server_addr()::text AS addr, current_setting('is_superuser') AS superuser");
    expect(who.rows[0]?.version).toMatch(/^PostgreSQL \d+/);
    expect(who.rows[0]?.addr).toMatch(/^127\.0\.0\.1/);
    await c.query('CREATE TABLE t (n int)');
    await c.query('INSERT INTO t VALUES (1), (2)');
    await c.end();
    const before = server.pid;
    await server.restart();
    expect(server.pid).not.toBe(before);
    const c2 = new pg.Client({ connectionString: server.url });
    await c2.connect();
    expect((await c2.query('SELECT sum(n)::int AS s FROM t')).rows[0]).toEqual({ s: 3 });
    await c2.end();
  });
});
