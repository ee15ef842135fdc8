import path from 'node:path';
import YAML from 'yaml';
import { assetsDir } from '../paths.js';
import { RULE_GROUPS, isAlertRule, type RuleGroup } from './alerts.js';

/**
 * vmalert rule files generated from src/queries/alerts.ts (STYLE 5). The committed files under
 * assets/vmalert/ are this module's output; a test fails when they differ.
 */

export function rulesDir(): string {
  return path.join(assetsDir(), 'vmalert');
}

function groupYaml(g: RuleGroup): Record<string, unknown> {
  return {
    name: g.name,
    interval: g.interval,
    rules: g.rules.map((r) =>
      isAlertRule(r)
        ? {
            alert: r.alert,
            expr: r.expr,
            for: r.for,
            labels: { severity: r.severity },
            annotations: { summary: r.summary, runbook: r.runbook, catalog: r.from.join(', ') },
          }
        : { record: r.record, expr: r.expr, ...(r.from !== null ? { labels: { sagewai_catalog: r.from } } : {}) },
    ),
  };
}

/** file name → its text, for every file under assets/vmalert/. */
export function ruleFiles(): Record<string, string> {
  const byFile = new Map<string, RuleGroup[]>();
  for (const g of RULE_GROUPS) byFile.set(g.file, [...(byFile.get(g.file) ?? []), g]);
  const out: Record<string, string> = {};
  for (const [file, groups] of byFile) {
    const header = `# Generated from src/queries/alerts.ts by \`sagewai-obs alerts export\`; do not edit (docs/alerts.md).\n`;
    out[file] = header + YAML.stringify({ groups: groups.map(groupYaml) }, { lineWidth: 0 });
  }
  return out;
}
