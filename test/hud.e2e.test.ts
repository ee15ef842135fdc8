import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * The real built binary in a real terminal: tmux (its own server socket) runs `sagewai-obs hud`
 * against a running stack and backend under load; the test reads the screen with capture-pane,
 * presses keys, quits with q and checks the process exited 0 and the alternate screen was left.
 * Needs `npm run build` and tmux (CI installs it).
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROOT = path.resolve(import.meta.dirname, '..');
const SOCKET = `sagewai-hud-e2e-${process.pid}`;
const SESSION = 'hud';
const TENANTS = ['e2e-acme', 'e2e-globex'];

const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (session = SESSION): string => tmux('capture-pane', '-p', '-t', session);
const alternateOn = (session = SESSION): boolean => tmux('display-message', '-p', '-t', session, '#{alternate_on}').trim() === '1';

async function waitForScreen(what: string, ok: (s: string) => boolean, timeoutMs = 60_000, session = SESSION): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let s = '';
  for (;;) {
    s = screen(session);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
    await sleep(200);
  }
}

let stack: TestStack;
let backend: TestBackend;
let api: BackendClient;
let stateDir: string;
let stopLoad = false;
let load: Promise<number> | undefined;

beforeAll(async () => {
  execFileSync('tmux', ['-V']); // fails clearly when tmux is missing
  if (!fs.existsSync(path.join(ROOT, 'dist/src/commands/hud.js'))) throw new Error('run `npm run build` first');
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-hud-e2e-'));
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  api = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken });
  for (const slug of TENANTS) {
    await api.createProject({ slug, name: slug, environment: 'test' });
    await api.createAgent(slug, { name: `${slug}-triager`, model: 'claude-haiku-4-5', system_prompt: 't', strategy: 'direct', temperature: 0, tools: [], metadata: {} });
  }
  const worker = await api.fleetRegister('e2e-acme', { name: 'e2e-worker-1', pool: 'default', models: ['claude-haiku-4-5'], max_concurrent: 1 });
  // Bounded load: runs round-robin over the tenants plus a worker heartbeat, until stopped.
  load = (async () => {
    let n = 0;
    const deadline = Date.now() + 240_000;
    while (!stopLoad && n < 2_000 && Date.now() < deadline) {
      const slug = TENANTS[n % TENANTS.length]!;
      await api.run(slug, { agent_name: `${slug}-triager`, message: `load ${n}` }).catch(() => undefined);
      if (n % 5 === 0) await api.fleetHeartbeat(worker, { status: 'online' }).catch(() => undefined);
      n++;
      await sleep(150);
    }
    return n;
  })();
}, 240_000);

afterAll(async () => {
  stopLoad = true;
  await load;
  try {
    tmux('kill-server');
  } catch {
    /* already gone */
  }
  await api?.close();
  await backend?.stop();
  await stack?.stop();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

let hudCommand = '';

describe('sagewai-obs hud in a real terminal', () => {
  it('shows live numbers, follows tab / p / ?, quits with q and restores the terminal', async () => {
    const hud = [
      process.execPath,
      path.join(ROOT, 'bin/run.js'),
      'hud',
      '--refresh',
      '1s',
      '--vm-url',
      stack.endpoints.vmUrl,
      '--vl-url',
      stack.endpoints.vlUrl,
      '--backend-url',
      backend.url,
      '--token',
      backend.operatorToken,
      '--state-dir',
      stateDir,
      '--vmalert-url',
      stack.endpoints.vmalertUrl as string,
    ]
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    hudCommand = hud;
    // After the HUD exits the shell prints its exit code and keeps the pane open for inspection.
    tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', `${hud}; echo "hud exited with $?"; sleep 600`);

    const live = await waitForScreen('live numbers', (s) => /req \d/.test(s) && /spend \$\d/.test(s) && TENANTS.every((t) => s.includes(t)) && /\$\d+\.\d+\/h ──\d/.test(s), 120_000);
    expect(alternateOn()).toBe(true);
    expect(live).toContain('metrics ●');
    expect(live).toContain('live ●');
    // vmalert answers: the alerts line says what fires (nothing, or the alerts with their project).
    expect(live).toMatch(/^alerts (● none firing|\d+ firing: )/m);
    expect(live).toContain('▶ Agents graph');
    expect(live).toMatch(/e2e-acme\s+default\s+[1-9]/); // the registered worker in fleet posture

    tmux('send-keys', '-t', SESSION, 'Tab');
    await waitForScreen('focus on missions', (s) => s.includes('▶ Missions in flight') && !s.includes('▶ Agents graph'));

    tmux('send-keys', '-t', SESSION, 'p');
    const filtered = await waitForScreen('tenant filter e2e-acme with numbers', (s) => s.includes('tenant e2e-acme ·') && /spend \$\d/.test(s));
    expect(filtered).not.toContain('e2e-globex');

    tmux('send-keys', '-t', SESSION, '?');
    await waitForScreen('help overlay', (s) => s.includes('Keys') && s.includes('pick tenant'));
    tmux('send-keys', '-t', SESSION, '?');
    await waitForScreen('help closed', (s) => !s.includes('pick tenant') && s.includes('Missions in flight'));

    tmux('send-keys', '-t', SESSION, 'q');
    const after = await waitForScreen('the HUD to exit', (s) => s.includes('hud exited with'), 20_000);
    expect(after).toContain('hud exited with 0');
    expect(alternateOn()).toBe(false); // alternate screen left: the shell's screen is back
    expect(after).not.toContain('Agents graph');
  });

  it('quits on ctrl-c too, with the terminal restored', async () => {
    expect(hudCommand).not.toBe('');
    tmux('new-session', '-d', '-s', 'hud-ctrl-c', '-x', '80', '-y', '24', `${hudCommand}; echo "hud exited with $?"; sleep 600`);
    await waitForScreen('the narrow HUD with live numbers', (s) => /req \d/.test(s) && s.includes('Event ticker'), 60_000, 'hud-ctrl-c');
    expect(alternateOn('hud-ctrl-c')).toBe(true);
    tmux('send-keys', '-t', 'hud-ctrl-c', 'C-c');
    const after = await waitForScreen('the HUD to exit on ctrl-c', (s) => s.includes('hud exited with'), 20_000, 'hud-ctrl-c');
    expect(after).toContain('hud exited with 0');
    expect(alternateOn('hud-ctrl-c')).toBe(false);
  });
});
