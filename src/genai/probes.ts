import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { getEntry, renderExpr } from '../queries/index.js';
import type { Probe } from '../verify/pipeline.js';

/** The window `doctor` looks back over for rejected GenAI spans. */
export const REJECTED_WINDOW = '1h';

/**
 * `doctor`'s probe of external apps' GenAI spans: which ones the collector refused to price in the
 * last hour, by reason (docs/genai.md). A warning, never a failure: the pipeline works, the app
 * sent spans that cannot be priced.
 */
export async function genaiRejectedProbe(vm: VictoriaMetricsClient): Promise<Probe> {
  const name = 'GenAI spans priced';
  const samples = await vm.query(renderExpr(getEntry('genai.rejected_spans'), { range: REJECTED_WINDOW }));
  const byReason = samples
    .filter((s) => s.metric.sagewai_genai_reject_reason && Math.round(s.value) > 0)
    .map((s) => ({ reason: s.metric.sagewai_genai_reject_reason as string, n: Math.round(s.value) }))
    .sort((a, b) => b.n - a.n || a.reason.localeCompare(b.reason));
  if (byReason.length === 0) return { name, status: 'ok', detail: `no gen_ai.* span rejected in the last ${REJECTED_WINDOW}` };
  const total = byReason.reduce((n, r) => n + r.n, 0);
  return {
    name,
    status: 'warn',
    detail: `${total} gen_ai.* span(s) rejected in the last ${REJECTED_WINDOW}, never priced: ${byReason.map((r) => `${r.reason} ${r.n}`).join(', ')}`,
    hint: 'an app sends spans without integer token counts or a model: for streams ask for the usage chunk (stream_options.include_usage); see docs/genai.md → What is counted',
  };
}
