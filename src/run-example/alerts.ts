import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { VmalertClient } from '../clients/vmalert.js';
import { readStackRecord } from '../stack/state.js';
import { checkFiringAlerts, checkRules } from '../verify/rules.js';
import type { ExampleCheck } from '../driver/context.js';

/**
 * run-example --verify, alerting part: every rule expression runs over the run's data, and,
 * for an example that declares which alerts it provokes, vmalert fires nothing else. Skipped
 * (no checks) when the stack has no vmalert, e.g. an external VictoriaMetrics.
 */
export async function alertChecks(o: { stateDir: string; vmUrl: string; allowed?: readonly string[] | undefined; say: (line: string) => void }): Promise<ExampleCheck[]> {
  const url = readStackRecord(o.stateDir)?.endpoints.vmalertUrl;
  if (!url) return [];
  const vmalert = new VmalertClient(url);
  const rules = await checkRules({ vm: new VictoriaMetricsClient(o.vmUrl), vmalert });
  const bad = rules.filter((r) => !r.ok);
  const checks: ExampleCheck[] = [{ name: `alerting and recording rules run (${rules.length})`, ok: bad.length === 0, detail: bad.length === 0 ? `${rules.length} rule expressions ran, vmalert evaluates each cleanly` : bad.map((r) => `${r.name}: ${r.error}`).join('; ') }];
  if (o.allowed) {
    const firing = await checkFiringAlerts(vmalert, o.allowed);
    o.say(`  alerts firing: ${[...firing.allowedFiring, ...firing.unexpected].join(', ') || 'none'}`);
    checks.push({ name: `no alert firing except ${o.allowed.join(', ')}`, ok: firing.ok, detail: firing.ok ? `firing: ${firing.allowedFiring.join(', ') || 'none'}` : `unexpected: ${firing.unexpected.join(', ')}` });
  }
  return checks;
}
