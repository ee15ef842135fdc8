import type { z } from 'zod';
import { operations } from '../../contract/operations.js';
import type * as res from '../../contract/responses.js';
import { audit } from '../audit.js';
import { HttpError, notFound, validate } from '../http.js';
import type { LedgerMetrics } from '../ledger-metrics.js';
import { actor, bind, type RouteBinding } from '../routing.js';
import * as sc from '../semconv.js';
import type { Awaitable, Prepare } from '../store.js';
import type { Tenancy } from './projects.js';

/** Agents of a project: a name, a model, a prompt and the worst-case output a run reserves for. */
export interface AgentRow {
  project: string;
  name: string;
  model: string;
  system_prompt: string;
  strategy: string;
  temperature: number;
  tools: string;
  metadata: string;
  max_output_tokens: number;
  created_at: number;
}

export type AgentInput = { name: string; model: string; system_prompt: string; strategy: string; temperature: number; tools: string[]; metadata: Record<string, unknown>; max_output_tokens: number };

export interface AgentStore {
  get(project: string, name: string): Awaitable<AgentRow | undefined>;
  list(project?: string): Awaitable<AgentRow[]>;
  /** false when (project, name) exists. */
  insert(project: string, a: AgentInput, now: number): Awaitable<boolean>;
}

export class SqliteAgentStore implements AgentStore {
  constructor(private readonly sql: Prepare) {}
  get(project: string, name: string): AgentRow | undefined {
    return this.sql<[string, string], AgentRow>('SELECT * FROM agents WHERE project = ? AND name = ?').get(project, name);
  }
  list(project?: string): AgentRow[] {
    return project ? this.sql<[string], AgentRow>('SELECT * FROM agents WHERE project = ? ORDER BY name').all(project) : this.sql<[], AgentRow>('SELECT * FROM agents ORDER BY project, name').all();
  }
  insert(project: string, a: AgentInput, now: number): boolean {
    return (
      this.sql('INSERT OR IGNORE INTO agents (project, name, model, system_prompt, strategy, temperature, tools, metadata, max_output_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        project,
        a.name,
        a.model,
        a.system_prompt,
        a.strategy,
        a.temperature,
        JSON.stringify(a.tools),
        JSON.stringify(a.metadata),
        a.max_output_tokens,
        now,
      ).changes > 0
    );
  }
}

export function agentJson(a: AgentRow): z.infer<typeof res.agent> {
  return { project: a.project, name: a.name, model: a.model, system_prompt: a.system_prompt, strategy: a.strategy, temperature: a.temperature, tools: JSON.parse(a.tools) as string[], metadata: JSON.parse(a.metadata) as Record<string, unknown>, max_output_tokens: a.max_output_tokens, created_at: new Date(a.created_at).toISOString() };
}

export class Agents {
  constructor(readonly store: AgentStore, private readonly metrics: LedgerMetrics) {}

  async create(project: string, a: AgentInput, by: string): Promise<AgentRow> {
    if (!(await this.store.insert(project, a, Date.now()))) throw new HttpError(409, 'agent_exists', `agent ${a.name} already exists in ${project}`);
    this.metrics.bornAtZero(project, a.name, a.model);
    audit('agent.created', project, by, { [sc.ATTR_SAGEWAI_AGENT_NAME]: a.name, [sc.ATTR_GEN_AI_REQUEST_MODEL]: a.model });
    return (await this.store.get(project, a.name)) as AgentRow;
  }

  routes(tenancy: Tenancy): RouteBinding[] {
    const ops = operations;
    return [
      bind(ops.createAgent, async (ctx) => {
        const project = await tenancy.required(ctx);
        const input = validate(ops.createAgent.body, await ctx.body());
        return { status: 201, body: agentJson(await this.create(project, input, actor(ctx))) };
      }),
      bind(ops.listAgents, async (ctx) => ({ status: 200, body: { items: (await this.store.list(await tenancy.required(ctx))).map(agentJson) } })),
      bind(ops.getAgent, async (ctx) => {
        const a = await this.store.get(await tenancy.required(ctx), ctx.params.name as string);
        if (!a) throw notFound(`agent ${ctx.params.name}`);
        return { status: 200, body: agentJson(a) };
      }),
    ];
  }
}
