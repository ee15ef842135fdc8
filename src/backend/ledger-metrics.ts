import type { Attributes } from '@opentelemetry/api';
import type { TOKEN_TYPES } from '../contract/responses.js';
import * as inst from './instruments.js';
import type { Pricing } from './price-history.js';
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
  /** The price book version that priced these calls. */
  version: string;
  cost: number;
  /** The cost split by token type (sums to cost). */
  costInput: number;
  costCached: number;
  costOutput: number;
  costReasoning: number;
  input: number;
  cached: number;
  output: number;
  reasoning: number;
  calls: number;
}

export const costAttrs = (project: string, agent: string, provider: string, model: string, version: string): Attributes => ({ [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent, [sc.ATTR_GEN_AI_PROVIDER_NAME]: provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: model, [sc.ATTR_SAGEWAI_PRICEBOOK_VERSION]: version });
export const runAttrs = (project: string, agent: string, outcome: string): Attributes => ({ [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent, [sc.ATTR_SAGEWAI_RUN_OUTCOME]: outcome });

export class LedgerMetrics {
  constructor(private readonly pricing: Pricing) {}

  /** Start-up: the totals from the ledger, run counts by outcome, and every agent's series at 0. */
  load(ledger: LedgerAggregate[], runs: Array<{ project: string; agent: string; status: string; n: number }>, agents: Array<{ project: string; name: string; model: string }>): void {
    for (const t of Object.values(inst.ledgerTotals)) t.clear();
    for (const r of ledger) this.add(r);
    for (const r of runs) inst.ledgerTotals.runs.add(runAttrs(r.project, r.agent, r.status), r.n);
    for (const a of agents) this.bornAtZero(a.project, a.name, a.model);
  }

  add(v: LedgerAggregate): void {
    const base = costAttrs(v.project, v.agent, v.provider, v.model, v.version);
    inst.ledgerTotals.costNusd.add(base, v.cost);
    const byType: Array<[(typeof TOKEN_TYPES)[number], number, number]> = [
      ['input', v.costInput, v.input],
      ['cached_input', v.costCached, v.cached],
      ['output', v.costOutput, v.output],
      ['reasoning', v.costReasoning, v.reasoning],
    ];
    for (const [type, cost, tokens] of byType) {
      inst.ledgerTotals.tokenCostNusd.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: type }, cost);
      inst.ledgerTotals.tokens.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: type }, tokens);
    }
    inst.ledgerTotals.calls.add({ ...base, [sc.ATTR_SAGEWAI_PRICED]: String(v.priced) }, v.calls);
  }

  runOutcome(project: string, agent: string, outcome: 'completed' | 'error' | 'denied'): void {
    inst.ledgerTotals.runs.add(runAttrs(project, agent, outcome), 1);
  }

  /** Series exist at 0 from the moment an agent (or a model it falls back to) exists, so the first increase is visible. */
  bornAtZero(project: string, agent: string, model: string): void {
    const q = this.pricing.quote(model);
    this.add({ project, agent, provider: q.provider, model: q.model, priced: q.priced, version: q.version, cost: 0, costInput: 0, costCached: 0, costOutput: 0, costReasoning: 0, input: 0, cached: 0, output: 0, reasoning: 0, calls: 0 });
    for (const o of ['completed', 'error', 'denied']) inst.ledgerTotals.runs.ensure(runAttrs(project, agent, o));
  }

  /**
   * A book imported to take effect later: every (project, agent, model) already seen gets its
   * series under the new version at 0 now, so the first call priced by it shows in increase().
   */
  newBook(book: PriceBook, from: number): void {
    const seen = new Map<string, { project: string; agent: string; model: string }>();
    for (const s of inst.ledgerTotals.costNusd.entries()) {
      const a = s.attrs;
      const k = { project: String(a[sc.ATTR_SAGEWAI_PROJECT_ID]), agent: String(a[sc.ATTR_SAGEWAI_AGENT_NAME]), model: String(a[sc.ATTR_GEN_AI_REQUEST_MODEL]) };
      seen.set(JSON.stringify(k), k);
    }
    for (const k of seen.values()) {
      const q = book.quote(k.model, from);
      this.add({ project: k.project, agent: k.agent, provider: q.provider, model: q.model, priced: q.priced, version: q.version, cost: 0, costInput: 0, costCached: 0, costOutput: 0, costReasoning: 0, input: 0, cached: 0, output: 0, reasoning: 0, calls: 0 });
    }
  }
}
