import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { assetsDir } from '../paths.js';
import type { Ports } from './ports.js';
import type { AlertingConfig } from './state.js';

/**
 * vmalert in the native stack: which rule files it loads, where it sends alerts, its command
 * line, and the dry run that rejects a broken rule file before `up` starts anything.
 */

/** The committed rules generated from the query catalog (`sagewai-obs alerts export`). */
export function generatedRulesGlob(): string {
  return path.join(assetsDir(), 'vmalert', '*.yml');
}

const GLOB = /[*?[\]{}]/;

export function alertingConfig(options: { extraRules?: readonly string[] | undefined; alertWebhookUrl?: string | undefined }): AlertingConfig {
  const extra = (options.extraRules ?? []).map((r) => r.trim()).filter((r) => r.length > 0).map((r) => path.resolve(r));
  for (const file of extra) {
    if (!GLOB.test(file) && !fs.existsSync(file)) {
      throw new UserError(`rule file ${file} (from --rules) does not exist`, ['check the path given to --rules / SAGEWAI_OBS_RULES', 'sagewai-obs up without --rules (the generated rules alone)']);
    }
  }
  let notifierUrl: string | null = null;
  if (options.alertWebhookUrl) {
    try {
      const u = new URL(options.alertWebhookUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
      notifierUrl = u.toString().replace(/\/+$/, '');
    } catch {
      throw new UserError(`--alert-webhook ${JSON.stringify(options.alertWebhookUrl)} is not an http(s) URL`, 'sagewai-obs up --alert-webhook http://127.0.0.1:9093 (an Alertmanager, or any receiver of its API v2)');
    }
  }
  return { ruleFiles: [generatedRulesGlob(), ...extra], notifierUrl };
}

/** vmalert's command line: VictoriaMetrics as datasource, recording results and alert state written back to it. */
export function vmalertArgs(ports: Ports, alerting: AlertingConfig): string[] {
  const vm = `http://127.0.0.1:${ports.vm}`;
  return [
    `-httpListenAddr=127.0.0.1:${ports.vmalert}`,
    `-datasource.url=${vm}`,
    `-remoteWrite.url=${vm}`,
    // Restores pending/firing state after a restart, so `for:` clocks do not start over.
    `-remoteRead.url=${vm}`,
    ...alerting.ruleFiles.map((r) => `-rule=${r}`),
    alerting.notifierUrl ? `-notifier.url=${alerting.notifierUrl}` : '-notifier.blackhole',
    `-external.url=http://127.0.0.1:${ports.vmalert}`,
    // VictoriaMetrics runs with -search.latencyOffset=1s; vmalert's default 30 s delay would make
    // every alert fire half a minute late.
    '-rule.evalDelay=1s',
    '-loggerOutput=stderr',
  ];
}

/** The part of vmalert's dry-run output that names the file, group and rule at fault. */
export function dryRunProblem(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const named = lines.filter((l) => /invalid (group|rule|expression)|rule "|group "/i.test(l) && !/\binfo\b/.test(l.slice(0, 40)));
  const fatal = lines.find((l) => /\bfatal\b/.test(l));
  const pick = named.length > 0 ? named.join('; ') : (fatal?.replace(/^.*?main\.go:\d+\s*/, '') ?? lines.slice(-2).join(' '));
  return pick.replace(/\s+/g, ' ').slice(0, 600);
}

/** `vmalert -dryRun` over every rule file; a broken one is a UserError naming the rule. */
export async function assertRulesValid(binary: string, ruleFiles: readonly string[]): Promise<void> {
  // node:child_process rather than execa: every `up` runs this, and importing execa cost 0.13–0.2 s
  // of the CLI's start on the shared 2-core machine. vmalert logs to stderr (-loggerOutput).
  const r = spawnSync(binary, ['-dryRun', ...ruleFiles.map((f) => `-rule=${f}`), '-loggerOutput=stderr'], { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 * 2 ** 20 });
  if (r.status === 0) return;
  throw new UserError(`the alerting rules do not load, so nothing was started: ${dryRunProblem(`${r.stdout ?? ''}\n${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`)}`, [
    'fix the rule named above (or drop its file from --rules / SAGEWAI_OBS_RULES)',
    'regenerate the built-in rules: sagewai-obs alerts export',
  ]);
}
