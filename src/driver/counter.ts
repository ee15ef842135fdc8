/**
 * Counts every request the driver makes, by method, route template and status class, so the
 * run can later be compared with the backend's HTTP metrics for the same window. Health routes
 * are counted too, but reported apart, because the board's request panels exclude them.
 */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
export const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** The routes the board's request panels leave out (CONTRACT: `http_route=~"/api/v1/health.*"`), plus probes the backend never counts. */
export const HEALTH_ROUTE = /^\/(?:api\/v1\/health|healthz$|readyz$)/;

export function isHealthRoute(route: string): boolean {
  return HEALTH_ROUTE.test(route);
}

export function statusClass(status: number): StatusClass {
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new RangeError(`not an HTTP status: ${status}`);
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

export type ClassCounts = Record<StatusClass, number>;

export function emptyClassCounts(): ClassCounts {
  return { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
}

export interface RouteCount {
  method: string;
  route: string;
  status: number;
  count: number;
}

export class RequestCounter {
  private readonly counts = new Map<string, RouteCount>();
  /** Requests that never got a status (connection refused, reset, client timeout). */
  transportErrors = 0;
  firstRequestAt: number | undefined;
  lastResponseAt: number | undefined;

  /** Mark the start of a request (for time to first data). */
  started(now = Date.now()): void {
    if (this.firstRequestAt === undefined) this.firstRequestAt = now;
  }

  record(method: string, route: string, status: number, now = Date.now()): void {
    statusClass(status); // validate
    const key = `${method} ${route} ${status}`;
    const cur = this.counts.get(key);
    if (cur) cur.count++;
    else this.counts.set(key, { method, route, status, count: 1 });
    this.lastResponseAt = now;
  }

  recordTransportError(now = Date.now()): void {
    this.transportErrors++;
    this.lastResponseAt = now;
  }

  rows(): RouteCount[] {
    return [...this.counts.values()].sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || a.status - b.status);
  }

  /** Totals by status class; `health` selects which routes count: all, only health, or none. */
  byClass(health: 'include' | 'exclude' | 'only' = 'include'): ClassCounts {
    const out = emptyClassCounts();
    for (const r of this.counts.values()) {
      const h = isHealthRoute(r.route);
      if (health === 'exclude' && h) continue;
      if (health === 'only' && !h) continue;
      out[statusClass(r.status)] += r.count;
    }
    return out;
  }

  /** Totals by exact status code, health routes excluded or not. */
  byStatus(health: 'include' | 'exclude' = 'include'): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.counts.values()) {
      if (health === 'exclude' && isHealthRoute(r.route)) continue;
      out[String(r.status)] = (out[String(r.status)] ?? 0) + r.count;
    }
    return out;
  }

  total(health: 'include' | 'exclude' | 'only' = 'include'): number {
    return Object.values(this.byClass(health)).reduce((a, b) => a + b, 0);
  }
}
