import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteLiveStore } from '../src/backend/areas/live.js';
import { openStore, statementCache, type OpenedStore } from '../src/backend/store.js';

// Tasks are kept after they end. The live view (the HUD's, every refresh) and the public health
// summary ask for the open ones only; they must read those, not the whole task history.
let dir: string;
let store: OpenedStore;
let live: SqliteLiveStore;
const asked: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-live-queries-'));
  store = openStore(dir);
  const insert = store.db.prepare('INSERT INTO tasks (id, project, pool, payload, model, status, worker_id, created_at, claimed_at, completed_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)');
  store.db.transaction(() => {
    for (let i = 0; i < 5000; i++) insert.run(`tsk_done_${i}`, `p${i % 7}`, 'default', '{}', i % 5 ? 'completed' : 'failed', 'wkr_1', i, i + 1, i + 2);
    insert.run('tsk_claimed', 'p1', 'default', '{}', 'claimed', 'wkr_1', 6000, 6001, null);
    for (let i = 0; i < 3; i++) insert.run(`tsk_queued_${i}`, `p${i}`, 'default', '{}', 'queued', null, 7000 + i, null, null);
  })();
  // The live store's own statements, as it prepares them.
  const sql = statementCache(store.db);
  live = new SqliteLiveStore((text) => {
    asked.push(text);
    return sql(text);
  });
});

afterAll(() => {
  store.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('live view and health summary over a long task history', () => {
  it('answer with the open tasks, and read them by status (no scan of the task history)', () => {
    const all = live.tasksInFlight(undefined, 50);
    expect(all.claimed.map((t) => t.id)).toEqual(['tsk_claimed']);
    expect(all.queued.map((t) => t.id).sort()).toEqual(['tsk_queued_0', 'tsk_queued_1', 'tsk_queued_2']);
    const p1 = live.tasksInFlight('p1', 50);
    expect(p1.claimed.map((t) => t.id)).toEqual(['tsk_claimed']);
    expect(p1.queued.map((t) => t.id)).toEqual(['tsk_queued_1']);
    expect(live.tasksInFlight('p0', 1).queued.map((t) => t.id)).toEqual(['tsk_queued_0']);
    expect(live.counts().tasks_queued).toBe(3);

    const taskQueries = [...new Set(asked)].filter((q) => /\bFROM tasks\b/.test(q));
    expect(taskQueries.length).toBe(5);
    for (const q of taskQueries) {
      const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${q}`).all(...Array.from(q.match(/\?/g) ?? [], () => 'p1')) as Array<{ detail: string }>).map((r) => r.detail).join(' | ');
      expect(plan, q).toMatch(/USING (COVERING )?INDEX tasks_status \(status=\?/);
    }
  });
});
