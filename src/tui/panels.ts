/**
 * What each panel shows, as lines of coloured segments sized to the panel. Pure and cheap:
 * work is bounded by the panel's height, not by the number of agents or workers, so a frame
 * with thousands of agents costs the same as one with ten.
 */
import type { HudModel, Kpi, SourceStatus, TenantNode } from '../hud/model.js';
import { DASH, clock, downText, fit, formatElapsed, formatKpi, formatRate, formatUsd, pad, sparkline, trendArrow } from './format.js';

export interface Seg {
  t: string;
  color?: string;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}
export type Line = Seg[];

export const PANELS = ['agents', 'missions', 'fleet', 'spend', 'events'] as const;
export type PanelId = (typeof PANELS)[number];

export const PANEL_TITLES: Record<PanelId, string> = {
  agents: 'Agents graph · tenant → agent → model / workers',
  missions: 'Missions in flight',
  fleet: 'Fleet posture',
  spend: 'Spend per tenant (today, UTC)',
  events: 'Event ticker (newest first)',
};

const dim = (t: string): Line => [{ t, dim: true }];

function downLine(s: SourceStatus, width: number): Line {
  return [{ t: fit(downText(s), width), color: 'red' }];
}

/**
 * Fill `height` lines from `items`, replacing the last visible one with "… N more" if they
 * overflow. Only the items shown are formatted: a panel lists a few dozen of thousands.
 */
function capped<T>(items: readonly T[], height: number, noun: string, row: (item: T) => Line): Line[] {
  if (items.length <= height) return items.map(row);
  // Too short for a "more" line: the panel title carries the count.
  if (height <= 2) return items.slice(0, Math.max(0, height)).map(row);
  const shown = items.slice(0, height - 1).map(row);
  shown.push(dim(`… ${items.length - shown.length} more ${noun}`));
  return shown;
}

// ── KPI bar ──

function kpiGood(k: Kpi): boolean | null {
  if (k.trend === 'none' || k.trend === 'flat') return null;
  const upIsBad = k.id === 'latencyP95' || k.id === 'errorRate' || k.id === 'workersLost' || k.id === 'budgetUtilizationMax';
  const up = k.trend === 'up';
  if (k.id === 'requestRate' || k.id === 'spendToday' || k.id === 'spendRatePerHour' || k.id === 'runsInFlight' || k.id === 'workersBusy') return null;
  return upIsBad ? !up : up;
}

export function kpiItems(model: HudModel): Line[] {
  const byId = new Map(model.kpis.map((k) => [k.id, k]));
  const item = (label: string, ids: Kpi['id'][], sep = '/'): Line => {
    const segs: Line = [{ t: `${label} `, dim: true }];
    ids.forEach((id, i) => {
      const k = byId.get(id);
      if (!k) return;
      if (i > 0) segs.push({ t: sep, dim: true });
      segs.push({ t: formatKpi(k.unit, k.value), bold: true });
      const good = kpiGood(k);
      segs.push({ t: trendArrow(k.trend), color: good === null ? (k.trend === 'none' ? undefined : 'cyan') : good ? 'green' : 'red' } as Seg);
    });
    return segs;
  };
  return [
    item('req', ['requestRate']),
    item('p95', ['latencyP95']),
    item('err', ['errorRate']),
    item('spend', ['spendToday']),
    item('rate', ['spendRatePerHour']),
    item('runs', ['runsInFlight']),
    item('workers on/busy/lost', ['workersOnline', 'workersBusy', 'workersLost']),
    item('budget max', ['budgetUtilizationMax']),
  ];
}

const lineWidth = (l: Line): number => l.reduce((n, s) => n + s.t.length, 0);

/** KPI items packed greedily into as few lines as fit `width`. */
export function kpiLines(model: HudModel, width: number): Line[] {
  const lines: Line[] = [];
  let cur: Line = [];
  let w = 0;
  for (const it of kpiItems(model)) {
    const iw = lineWidth(it);
    if (w > 0 && w + 3 + iw > width) {
      lines.push(cur);
      cur = [];
      w = 0;
    }
    if (w > 0) {
      cur.push({ t: ' │ ', dim: true });
      w += 3;
    }
    cur.push(...it);
    w += iw;
  }
  if (cur.length) lines.push(cur);
  const m = model.sources.metrics;
  if (m.state === 'down') lines.push(downLine(m, width));
  return lines.map((l) => clip(l, width));
}

export function headerLine(model: HudModel, filter: string | null, width: number): Line {
  const segs: Line = [
    { t: 'sagewai-obs hud', bold: true },
    { t: ' · tenant ', dim: true },
    { t: filter ?? 'all', color: 'yellow', bold: true },
    { t: ` · ${clock(model.generatedAt)} UTC · `, dim: true },
  ];
  for (const id of ['metrics', 'live', 'logs'] as const) {
    const s = model.sources[id];
    segs.push({ t: `${id} `, dim: true }, { t: s.state === 'ok' ? '●' : '✕', color: s.state === 'ok' ? 'green' : 'red' }, { t: ' ' });
  }
  return clip(segs, width);
}

/** One line under the header: the firing alerts (critical first), or that none fire; null when the HUD knows no vmalert. */
export function alertsLine(model: HudModel, width: number): Line | null {
  if (model.alerts === undefined) return null;
  if (model.alerts === null) return clip([{ t: 'alerts ', dim: true }, { t: '✕ vmalert did not answer', color: 'red' }], width);
  if (model.alerts.length === 0) return clip([{ t: 'alerts ', dim: true }, { t: '● none firing', color: 'green' }], width);
  const sorted = [...model.alerts].sort((a, b) => (a.severity === b.severity ? a.name.localeCompare(b.name) : a.severity === 'critical' ? -1 : 1));
  const segs: Line = [{ t: `alerts ${sorted.length} firing: `, color: 'red', bold: true }];
  sorted.forEach((a, i) => {
    if (i > 0) segs.push({ t: ' · ', dim: true });
    segs.push({ t: a.name.replace(/^Sagewai/, ''), color: a.severity === 'critical' ? 'red' : 'yellow', bold: true }, { t: ` ${a.project ?? 'pipeline'}`, dim: true });
  });
  return clip(segs, width);
}

export function clip(line: Line, width: number): Line {
  const out: Line = [];
  let left = width;
  for (const s of line) {
    if (left <= 0) break;
    if (s.t.length <= left) {
      out.push(s);
      left -= s.t.length;
    } else {
      out.push({ ...s, t: fit(s.t, left) });
      left = 0;
    }
  }
  return out;
}

// ── agents graph ──

function tenantLines(t: TenantNode, width: number, budget: number, nameW: number): Line[] {
  const out: Line[] = [
    [
      { t: '◆ ', color: 'yellow' },
      { t: t.project, bold: true },
      { t: `  ${formatRate(t.callsPerSec, ' calls/s')}  ${t.usdPerHour === null ? DASH : `${formatUsd(t.usdPerHour)}/h`}`, dim: true },
    ],
  ];
  const children: Line[] = [];
  let total = t.pools.length;
  const costW = 10;
  for (const a of t.agents) {
    total += a.models.length;
    if (children.length > budget) continue;
    a.models.forEach((e, i) => {
      if (children.length > budget) return;
      children.push([
        { t: i === 0 ? '├─ ' : '│  ', dim: true },
        { t: pad(i === 0 ? a.name : '', nameW), color: 'cyan' },
        { t: pad(i === 0 && a.usdPerHour !== null ? `${formatUsd(a.usdPerHour)}/h` : i === 0 ? DASH : '', costW, true), color: 'yellow' },
        { t: ` ──${formatRate(e.callsPerSec)}──▶ `, color: e.callsPerSec ? 'green' : undefined, dim: !e.callsPerSec } as Seg,
        { t: e.model },
      ]);
    });
  }
  for (const p of t.pools) {
    if (children.length > budget) break;
    children.push([
      { t: '├─ ', dim: true },
      { t: pad(`workers · ${p.pool}`, nameW), color: 'magenta' },
      { t: `${' '.repeat(costW)} ──▶ ` },
      { t: `${p.online} online · ${p.busy} busy · ${p.lost} lost`, color: p.lost > 0 ? 'red' : undefined } as Seg,
    ]);
  }
  let shown = children;
  if (total > budget) {
    if (budget >= 2) {
      shown = children.slice(0, budget - 1);
      shown.push(dim(`└─ … ${total - shown.length} more`));
    } else shown = children.slice(0, budget);
  }
  const last = shown[shown.length - 1];
  if (last && last[0]?.t === '├─ ') shown[shown.length - 1] = [{ ...last[0], t: '└─ ' }, ...last.slice(1)];
  return [...out, ...shown];
}

export function agentsPanel(model: HudModel, width: number, height: number): Line[] {
  const { live, metrics } = model.sources;
  const head: Line[] = [];
  if (live.state === 'down') head.push([{ t: fit(`agents: ${downText(live)}`, width), color: 'red' }]);
  if (metrics.state === 'down') head.push([{ t: fit(`traffic: ${downText(metrics)}`, width), color: 'red' }]);
  const room = height - head.length;
  if (model.graph.length === 0) return [...head, dim(live.state === 'ok' ? 'no agents yet' : '')].slice(0, Math.max(1, height));
  const tenants = model.graph;
  // Share the rows fairly: every tenant gets its header and an equal slice for its edges.
  const shownTenants = tenants.slice(0, Math.max(1, Math.min(tenants.length, Math.floor(room / 2) || 1)));
  const perTenant = Math.max(0, Math.floor(room / shownTenants.length) - 1);
  const lines: Line[] = [...head];
  // Agent-name column as wide as the longest name shown, within 45 % of the panel.
  let longest = 0;
  for (const t of shownTenants) {
    for (const a of t.agents.slice(0, perTenant)) longest = Math.max(longest, a.name.length);
    for (const p of t.pools) longest = Math.max(longest, p.pool.length + 10);
  }
  const nameW = Math.max(8, Math.min(longest + 1, Math.floor(width * 0.45)));
  for (const t of shownTenants) lines.push(...tenantLines(t, width, perTenant, nameW));
  if (shownTenants.length < tenants.length) {
    const rest = dim(`… ${tenants.length - shownTenants.length} more tenants (p to pick one)`);
    if (lines.length >= height) lines[height - 1] = rest;
    else lines.push(rest);
  }
  return lines.slice(0, height);
}

// ── missions ──

export function missionsPanel(model: HudModel, width: number, height: number): Line[] {
  const live = model.sources.live;
  if (live.state === 'down') return [downLine(live, width)];
  if (model.missions.length === 0) return [dim('no runs or tasks in flight')];
  const cols = [14, 20, 18, 8, 10];
  const fixed = cols.reduce((a, b) => a + b, 0);
  const scale = Math.min(1, width / fixed);
  const [wT, wA, wM, wE, wC] = cols.map((c) => Math.max(4, Math.floor(c * scale))) as [number, number, number, number, number];
  const col = (t: string, w: number): string => `${pad(t, w - 1)} `;
  const header: Line = [{ t: col('tenant', wT) + col('agent/pool', wA) + col('model/worker', wM) + pad('elapsed', wE, true) + pad('cost', wC, true), dim: true }];
  const row = (m: (typeof model.missions)[number]): Line => [
    { t: col(m.project, wT), color: 'yellow' },
    { t: col(m.kind === 'run' ? (m.agent ?? DASH) : `task · ${m.pool ?? DASH}`, wA), color: m.kind === 'run' ? 'cyan' : 'magenta' },
    { t: col(m.kind === 'run' ? (m.model ?? DASH) : (m.workerId ?? 'unclaimed'), wM) },
    { t: pad(formatElapsed(m.elapsedMs), wE, true) },
    { t: pad(m.kind === 'run' ? formatUsd(m.costUsd, true) : DASH, wC, true), bold: true },
  ];
  return height < 4 ? capped(model.missions, height, 'in flight', row) : [header, ...capped(model.missions, height - 1, 'in flight', row)];
}

// ── fleet ──

export function fleetPanel(model: HudModel, width: number, height: number): Line[] {
  const m = model.sources.metrics;
  if (m.state === 'down') return [downLine(m, width)];
  if (model.fleet.length === 0) return [dim('no workers registered')];
  const wT = Math.max(6, Math.min(18, width - 32));
  const wP = Math.max(6, Math.min(12, width - wT - 21));
  const header: Line = [{ t: `${pad('tenant', wT - 1)} ${pad('pool', wP - 1)} ${pad('online', 7, true)}${pad('busy', 7, true)}${pad('lost', 7, true)}`, dim: true }];
  const row = (f: (typeof model.fleet)[number]): Line => [
    { t: `${pad(f.project, wT - 1)} `, color: 'yellow' },
    { t: `${pad(f.pool, wP - 1)} `, color: 'magenta' },
    { t: pad(String(f.online), 7, true), color: 'green' },
    { t: pad(String(f.busy), 7, true), color: 'cyan' },
    { t: pad(String(f.lost), 7, true), color: f.lost > 0 ? 'red' : undefined } as Seg,
  ];
  return height < 4 ? capped(model.fleet, height, 'pools', row) : [header, ...capped(model.fleet, height - 1, 'pools', row)];
}

// ── spend ──

export function spendPanel(model: HudModel, width: number, height: number): Line[] {
  const m = model.sources.metrics;
  if (m.state === 'down') return [downLine(m, width)];
  if (model.spend.length === 0) return [dim('no spend recorded today')];
  const wT = Math.max(6, Math.min(18, Math.floor(width * 0.35)));
  const wS = Math.max(0, width - wT - 22);
  const row = (s: (typeof model.spend)[number]): Line => [
    { t: pad(s.project, wT - 1), color: 'yellow' },
    { t: pad(formatUsd(s.costUsd, true), 11, true), bold: true },
    { t: pad(s.usdPerHour === null ? DASH : `${formatUsd(s.usdPerHour)}/h`, 11, true), dim: true },
    { t: ' ' },
    { t: sparkline(s.series, wS), color: 'green' },
  ];
  return capped(model.spend, height, 'tenants', row);
}

// ── events ──

export function eventsPanel(model: HudModel, width: number, height: number): Line[] {
  const l = model.sources.logs;
  if (l.state === 'down') return [downLine(l, width)];
  if (model.events.length === 0) return [dim('no audit events yet')];
  return model.events.slice(0, height).map((e) => {
    const bad = /failed|error|exceeded|lost|throttled/.test(e.name);
    return clip(
      [
        { t: `${clock(e.time)} `, dim: true },
        { t: e.name, color: bad ? 'red' : e.name.startsWith('budget') ? 'yellow' : 'cyan' },
        { t: e.project ? ` ${e.project}` : '', color: 'yellow' },
        { t: e.actor ? ` ${e.actor}` : '', dim: true },
        { t: e.detail ? ` ${e.detail}` : '' },
      ],
      width,
    );
  });
}

/** The panel's title with its count, so a panel too short to list everything still says how much there is. */
export function panelTitle(id: PanelId, model: HudModel): string {
  switch (id) {
    case 'agents': {
      const agents = model.graph.reduce((n, t) => n + t.agents.length, 0);
      return `${PANEL_TITLES.agents} (${model.graph.length} tenants, ${agents} agents)`;
    }
    case 'missions':
      return `${PANEL_TITLES.missions} (${model.missions.length})`;
    case 'fleet':
      return `${PANEL_TITLES.fleet} (${model.fleet.reduce((n, f) => n + f.online + f.busy + f.lost, 0)} workers, ${model.fleet.length} pools)`;
    case 'spend':
      return `${PANEL_TITLES.spend} (${model.spend.length} tenants)`;
    case 'events':
      return `${PANEL_TITLES.events} (${model.events.length})`;
  }
}

function rawPanelLines(id: PanelId, model: HudModel, width: number, height: number): Line[] {
  switch (id) {
    case 'agents':
      return agentsPanel(model, width, height);
    case 'missions':
      return missionsPanel(model, width, height);
    case 'fleet':
      return fleetPanel(model, width, height);
    case 'spend':
      return spendPanel(model, width, height);
    case 'events':
      return eventsPanel(model, width, height);
  }
}

/** A panel's lines, at most `height` of them, each clipped to `width`. */
export function panelLines(id: PanelId, model: HudModel, width: number, height: number): Line[] {
  if (height <= 0) return [];
  return rawPanelLines(id, model, width, height)
    .slice(0, height)
    .map((l) => clip(l, width));
}

export const HELP_LINES: readonly string[] = [
  'tab / → / ↓      next panel',
  'shift-tab / ← / ↑ previous panel',
  'p                 pick tenant: all → each tenant → all (every panel follows)',
  '?                 show / hide this help',
  'q / ctrl-c        quit',
  '',
  'Numbers come from the query catalog (VictoriaMetrics), the backend live endpoint',
  'and VictoriaLogs. A source that is down says so with its last good time.',
];
