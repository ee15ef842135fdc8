import type { Attributes } from '@opentelemetry/api';
import * as inst from './instruments.js';
import type { PriceBook } from './pricebook.js';
import * as sc from './semconv.js';

/**
 * The ledger-backed metric totals (cost, tokens, calls, runs by outcome). They move only from a
 * recorded row, in the same synchronous step that follows its commit, and are loaded from the
 * ledger at start-up, so the exported counters always equal the ledger. On PostgreSQL with
 * several replicas, each loads and exports the totals of the rows it wrote (RunStore.totals), under
 * its own service.instance.id: the sum over instances is the ledger, nothing counted twice.
 */
export interface LedgerAggregate {
  project: string;
  agent: string;
  provider: string;
  model: string;
  priced: boolean;
  cost: number;
  input: number;
  cached: number;
  output: number;
  calls: number;
}

export const costAttrs = (project: string, agent: string, provider: string, model: string): Attributes => ({ [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent, [sc.ATTR_GEN_AI_PROVIDER_NAME]: provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: model });
export const runAttrs = (project: string, agent: string, outcome: string): Attributes => ({ [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent, [sc.ATTR_SAGEWAI_RUN_OUTCOME]: outcome });

export class LedgerMetrics {
  constructor(private readonly priceBook: PriceBook) {}

  /** Start-up: the totals from the ledger, run counts by outcome, and every agent's series at 0. */
  load(ledger: LedgerAggregate[], runs: Array<{ project: string; agent: string; status: string; n: number }>, agents: Array<{ project: string; name: string; model: string }>): void {
    for (const t of Object.values(inst.ledgerTotals)) t.clear();
    for (const r of ledger) this.add(r);
    for (const r of runs) inst.ledgerTotals.runs.add(runAttrs(r.project, r.agent, r.status), r.n);
    for (const a of agents) this.bornAtZero(a.project, a.name, a.model);
  }

  add(v: LedgerAggregate): void {
    const base = costAttrs(v.project, v.agent, v.provider, v.model);
    inst.ledgerTotals.costNusd.add(base, v.cost);
    inst.ledgerTotals.tokens.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'input' }, v.input);
    inst.ledgerTotals.tokens.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'cached_input' }, v.cached);
    inst.ledgerTotals.tokens.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'output' }, v.output);
    inst.ledgerTotals.calls.add({ ...base, [sc.ATTR_SAGEWAI_PRICED]: String(v.priced) }, v.calls);
  }

  runOutcome(project: string, agent: string, outcome: 'completed' | 'error' | 'denied'): void {
    inst.ledgerTotals.runs.add(runAttrs(project, agent, outcome), 1);
  }

  /** Series exist at 0 from the moment an agent (or a model it falls back to) exists, so the first increase is visible. */
  bornAtZero(project: string, agent: string, model: string): void {
    const q = this.priceBook.quote(model);
    this.add({ project, agent, provider: q.provider, model: q.model, priced: q.priced, cost: 0, input: 0, cached: 0, output: 0, calls: 0 });
    for (const o of ['completed', 'error', 'denied']) inst.ledgerTotals.runs.ensure(runAttrs(project, agent, o));
  }
}
