import { catalog } from './catalog.js';
import { ROWS, type CatalogEntry } from './types.js';

/** docs/queries.md, generated from the catalog (`sagewai-obs dashboard export --docs docs/queries.md`). */
export function catalogMarkdown(entries: readonly CatalogEntry[] = catalog): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const table = (list: readonly CatalogEntry[]): string[] => [
    '| id | title | source | unit | expression |',
    '|---|---|---|---|---|',
    ...list.map((e) => `| \`${e.id}\` | ${cell(e.title)}${e.tenant ? '' : ' ¹'} | ${e.datasource === 'victoriametrics' ? 'MetricsQL' : 'LogsQL'} | ${e.unit} | \`${cell(e.expr)}\` |`),
  ];
  const out = [
    '# Query catalog',
    '',
    '<!-- Generated from src/queries/catalog.ts by `sagewai-obs dashboard export --docs docs/queries.md`; do not edit. -->',
    '',
    'Every number the Grafana board, the HUD, `cost` and `verify` show is one of these entries.',
    'Placeholders: `$project` (a regex; `.*` for every project, a slug is regex-escaped),',
    '`$__range` (the window: the dashboard range, or `--since`/`--from --to`) and `$__rate_interval`.',
    'Counters are read with `increase_pure()`: exact, not extrapolated, and a new series counts from 0.',
    '',
    '¹ No project label on this data (collector self-metrics, scrape health, logins): the project variable does not apply.',
    '',
  ];
  for (const row of ROWS) {
    const list = entries.filter((e) => e.panel?.row === row);
    if (list.length > 0) out.push(`## Board row: ${row}`, '', ...table(list), '');
  }
  const rest = entries.filter((e) => !e.panel);
  if (rest.length > 0) out.push('## CLI, HUD and verification queries (no board panel)', '', ...table(rest), '');
  return out.join('\n');
}
