import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';

// The built `serve` as a child process: backend.json, operator token, SIGTERM drain, and a
// restart (even after SIGKILL) that keeps everything acknowledged and the same instance id.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-serve-data-'));
const started: TestBackend[] = [];

afterAll(async () => {
  for (const b of started) await b.stop().catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('sagewai-obs serve', () => {
  it('records backend.json, writes a 0600 operator token, drains on SIGTERM', async () => {
    const b = await startTestBackend({ dataDir, env: { SAGEWAI_OBS_LATENCY_SCALE: '3' } });
    started.push(b);
    const rec = JSON.parse(fs.readFileSync(path.join(b.stateDir, 'backend.json'), 'utf8')) as { url: string; pid: number; dataDir: string; startedAt: string };
    expect(rec).toMatchObject({ url: b.url, pid: b.pid, dataDir });
    expect(fs.statSync(path.join(dataDir, 'operator-token')).mode & 0o777).toBe(0o600);
    const c = new BackendClient({ baseUrl: b.url, token: b.operatorToken });
    await c.createProject({ slug: 'durable', name: 'Durable' });
    await c.createAgent('durable', { name: 'slow', model: 'claude-opus-4-6' });
    // A run in flight when SIGTERM arrives still finishes.
    const inFlight = c.run('durable', { agent_name: 'slow', message: 'take your time', simulate: { input_tokens: 100, output_tokens: 1000 } });
    await new Promise((r) => setTimeout(r, 60));
    process.kill(b.pid, 'SIGTERM');
    const done = await inFlight;
    expect(done.status).toBe('completed');
    await c.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(() => process.kill(b.pid, 0)).toThrow();
    expect(fs.existsSync(path.join(b.stateDir, 'backend.json'))).toBe(false);
  });

  it('restarts on the same data dir with the same instance id and nothing lost, even after SIGKILL', async () => {
    const b1 = await startTestBackend({ dataDir });
    started.push(b1);
    const c1 = new BackendClient({ baseUrl: b1.url, token: b1.operatorToken });
    const id1 = (await c1.healthSummary()).instance_id;
    const r = await c1.run('durable', { agent_name: 'slow', message: 'acknowledged', simulate: { input_tokens: 10, output_tokens: 10 } });
    const before = await c1.costs({ project: 'durable' });
    await c1.close();
    await b1.kill();
    const b2 = await startTestBackend({ dataDir });
    started.push(b2);
    expect(b2.operatorToken).toBe(b1.operatorToken);
    const c2 = new BackendClient({ baseUrl: b2.url, token: b2.operatorToken });
    expect((await c2.healthSummary()).instance_id).toBe(id1);
    expect((await c2.listProjects()).map((p) => p.slug)).toEqual(['durable']);
    expect((await c2.costs({ project: 'durable' })).total).toEqual(before.total);
    expect((await c2.listRuns({ project: 'durable' })).items.map((x) => x.run_id)).toContain(r.run_id);
    await c2.close();
  });
});
