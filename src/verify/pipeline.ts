import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import type { VictoriaLogsClient } from '../clients/victoria-logs.js';
import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { describeCause } from '../errors.js';
import { genaiRejectedProbe } from '../genai/probes.js';
import { backendLogsQuery, getEntry, renderExpr } from '../queries/index.js';

/** Pipeline probes shared by `doctor` and `verify`: is each store up, is the scrape up, is the collector healthy. */

export type ProbeStatus = 'ok' | 'fail' | 'warn';

export interface Probe {
  name: string;
  status: ProbeStatus;
  detail: string;
  /** What to do about a failure. */
  hint?: string;
}

/** Scrape jobs from assets/victoria-metrics/scrape.yaml that must be up. */
export const REQUIRED_SCRAPE_JOBS = ['otel-collector', 'otelcol-internal'] as const;

/** The collector's health_check URL recorded by `up` in <state>/stack.json, when there is one. */
export function recordedCollectorHealthUrl(stateDir: string): string | undefined {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(stateDir, 'stack.json'), 'utf8')) as { endpoints?: { collectorHealth?: unknown } };
    const u = rec.endpoints?.collectorHealth;
    return typeof u === 'string' && u.length > 0 ? u : undefined;
  } catch {
    return undefined;
  }
}

async function httpOk(url: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await request(url, { method: 'GET', headersTimeout: 5000, bodyTimeout: 5000 });
    const text = (await res.body.text()).trim().slice(0, 120);
    return { ok: res.statusCode === 200, detail: `HTTP ${res.statusCode}${text ? ` ${text}` : ''}` };
  } catch (err) {
    return { ok: false, detail: describeCause(err) };
  }
}

export interface ProbeOptions {
  vm: VictoriaMetricsClient;
  vl: VictoriaLogsClient;
  collectorHealthUrl?: string | undefined;
  /** Also check that backend metrics and logs arrive (doctor); reported as warnings. */
  dataFlow?: boolean;
}

export async function runPipelineProbes(opts: ProbeOptions): Promise<Probe[]> {
  const probes: Probe[] = [];
  const vmProbe = await opts.vm.healthProbe();
  const vmUp = vmProbe.ok;
  probes.push(vmUp
    ? { name: 'victoria-metrics reachable', status: 'ok', detail: vmProbe.via }
    : { name: 'victoria-metrics reachable', status: 'fail', detail: `${opts.vm.baseUrl}/health and a query on it did not answer 200`, hint: 'start the stack with `sagewai-obs up`, or point --vm-url / SAGEWAI_OBS_VM_URL at VictoriaMetrics' });
  const vlUp = await opts.vl.healthy();
  probes.push(vlUp
    ? { name: 'victoria-logs reachable', status: 'ok', detail: `${opts.vl.baseUrl}/health` }
    : { name: 'victoria-logs reachable', status: 'fail', detail: `${opts.vl.baseUrl}/health did not answer 200`, hint: 'start the stack with `sagewai-obs up`, or point --vl-url / SAGEWAI_OBS_VL_URL at VictoriaLogs' });

  if (opts.collectorHealthUrl) {
    const h = await httpOk(opts.collectorHealthUrl);
    probes.push(h.ok
      ? { name: 'collector healthy', status: 'ok', detail: `${opts.collectorHealthUrl} ${h.detail}` }
      : { name: 'collector healthy', status: 'fail', detail: `${opts.collectorHealthUrl}: ${h.detail}`, hint: 'the OTel collector is down or unhealthy: see <state>/logs/collector.log, then `sagewai-obs down && sagewai-obs up`' });
  }

  if (vmUp) {
    const samples = await opts.vm.query(renderExpr(getEntry('pipeline.scrape_up'), { range: '60s' }));
    const byJob = new Map(samples.map((s) => [s.metric.job ?? '', s.value]));
    for (const job of new Set<string>([...REQUIRED_SCRAPE_JOBS, ...byJob.keys()])) {
      const v = byJob.get(job);
      const name = `scrape ${job} up`;
      if (v === 1) probes.push({ name, status: 'ok', detail: 'up == 1' });
      else if (v === undefined) probes.push({ name, status: 'fail', detail: 'no `up` series: VictoriaMetrics is not scraping this job', hint: 'VictoriaMetrics must run with -promscrape.config=assets/victoria-metrics/scrape.yaml (`sagewai-obs up` does this)' });
      else probes.push({ name, status: 'fail', detail: `up == ${v}: the last scrape failed`, hint: job === 'otel-collector' ? "the collector's prometheus exporter is not answering: is the collector running?" : job === 'otelcol-internal' ? "the collector's self-metrics endpoint is not answering: is the collector running?" : 'see the VictoriaMetrics log' });
    }
    if (!opts.collectorHealthUrl) {
      const internal = byJob.get('otelcol-internal');
      probes.push(internal === 1
        ? { name: 'collector healthy', status: 'ok', detail: 'no health_check URL known; its self-metrics are being scraped' }
        : { name: 'collector healthy', status: 'fail', detail: 'no health_check URL known and its self-metrics are not scraped', hint: 'start the stack with `sagewai-obs up` (it records the collector health URL in stack.json)' });
    }
    if (opts.dataFlow) {
      const s = await opts.vm.query(renderExpr(getEntry('pipeline.backend_series'), { range: '60s' }));
      const n = s[0]?.value ?? 0;
      probes.push(n > 0
        ? { name: 'backend metrics arriving', status: 'ok', detail: `${n} series from job sagewai/sagewai-admin in the last 5 min` }
        : { name: 'backend metrics arriving', status: 'warn', detail: 'no series from job sagewai/sagewai-admin in the last 5 min', hint: 'run `sagewai-obs serve` (it exports to the stack) and send it some traffic, e.g. `sagewai-obs run-example 43`' });
      probes.push(await genaiRejectedProbe(opts.vm));
    }
  }
  if (vlUp && opts.dataFlow) {
    // A cluster select node with a storage node down refuses the query (no partial answer): a failed probe, not a crash.
    const recs = await opts.vl.query(backendLogsQuery(), { start: new Date(Date.now() - 3_600_000), end: new Date() }).catch((err: unknown) => err as Error);
    if (recs instanceof Error) probes.push({ name: 'backend logs arriving', status: 'fail', detail: recs.message, hint: (recs as { tryThis?: readonly string[] }).tryThis?.[0] ?? 'see the VictoriaLogs log' });
    else probes.push(recs.length > 0
      ? { name: 'backend logs arriving', status: 'ok', detail: 'records from service sagewai-admin in the last hour' }
      : { name: 'backend logs arriving', status: 'warn', detail: 'no record from service sagewai-admin in the last hour', hint: 'the backend logs only audit events and 4xx/5xx requests: log in or run an example, then check the collector log' });
  }
  return probes;
}
