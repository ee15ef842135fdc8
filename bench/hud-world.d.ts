import type { LiveSnapshot, MetricsSnapshot } from '../src/hud/sources.js';

export declare function hudWorld(opts: { tenants: number; perTenant: number; workers: number; now: Date }): { tenants: string[]; metrics: MetricsSnapshot; live: LiveSnapshot };
