import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Example17Result } from '../examples/ex17-genai-apps.js';
import { runExample } from '../src/run-example/index.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * `run-example 17 --verify` against the real stack: the official openai clients for Node and
 * Python (the Python one installed from PyPI into the example's venv on first use), instrumented
 * by the official OpenTelemetry instrumentations, for 3 tenants. Needs python3 with venv and
 * access to PyPI the first time.
 */
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('example 17: external GenAI apps', () => {
  it('prices every tenant to the nano-dollar from the provider record, and shows them in cost and the HUD', async () => {
    const r = await runExample({ example: '17', verify: true, keep: false, stateDir: stack.stateDir });
    expect(r.failed).toEqual([]);
    const result = r.result as Example17Result;
    expect(result.apps).toEqual(['support-bot-node', 'billing-bot-python']);
    expect(result.tenants.map((t) => t.project)).toEqual(['genai-acme', 'genai-globex', 'genai-initech']);
    for (const t of result.tenants) {
      expect(t.expected.cost_nusd, t.project).toBeGreaterThan(0);
      expect(t.catalog, t.project).toEqual(t.expected);
      expect(t.expected.unpriced_calls, t.project).toBe(1);
    }
    const names = result.checks.map((c) => c.name);
    for (const t of result.tenants) {
      expect(names).toContain(`${t.project} in \`cost --by agent\` with both apps`);
      expect(names).toContain(`${t.project} in the HUD with both apps as agents`);
    }
    expect(r.verification?.checks.filter((c) => c.name.startsWith('panel ')).length).toBeGreaterThan(5);
  });
});
