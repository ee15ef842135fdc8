import net from 'node:net';
import { UserError } from '../errors.js';

/** Every port the stack listens on (all bound to 127.0.0.1). Defaults: docs/CONTRACT.md. */
export interface Ports {
  otlpGrpc: number;
  otlpHttp: number;
  promExporter: number;
  collectorMetrics: number;
  collectorHealth: number;
  vm: number;
  vl: number;
  vmalert: number;
  grafana: number;
}

export const DEFAULT_PORTS: Readonly<Ports> = {
  otlpGrpc: 4317,
  otlpHttp: 4318,
  promExporter: 8889,
  collectorMetrics: 8888,
  collectorHealth: 13133,
  vm: 8428,
  vl: 9428,
  vmalert: 8880,
  grafana: 3000,
};

/** The `up` flag that changes each port, for "Try this:" hints. */
export const PORT_FLAGS: Readonly<Record<keyof Ports, string>> = {
  otlpGrpc: '--otlp-grpc-port',
  otlpHttp: '--otlp-http-port',
  promExporter: '--prom-port',
  collectorMetrics: '--collector-metrics-port',
  collectorHealth: '--collector-health-port',
  vm: '--vm-port',
  vl: '--vl-port',
  vmalert: '--vmalert-port',
  grafana: '--grafana-port',
};

export const PORT_LABELS: Readonly<Record<keyof Ports, string>> = {
  otlpGrpc: 'collector OTLP gRPC',
  otlpHttp: 'collector OTLP HTTP',
  promExporter: 'collector prometheus exporter',
  collectorMetrics: 'collector self-metrics',
  collectorHealth: 'collector health_check',
  vm: 'VictoriaMetrics',
  vl: 'VictoriaLogs',
  vmalert: 'vmalert',
  grafana: 'Grafana',
};

export function withDefaults(partial: Partial<Ports> | undefined): Ports {
  const out: Ports = { ...DEFAULT_PORTS };
  for (const [k, v] of Object.entries(partial ?? {})) if (v !== undefined) out[k as keyof Ports] = v;
  return out;
}

/** Resolves true when 127.0.0.1:port can be bound right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port the OS says is free now (bind port 0, read it back, release it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Distinct free ports for every role. */
export async function freePorts(): Promise<Ports> {
  const seen = new Set<number>();
  const out: Partial<Ports> = {};
  for (const key of Object.keys(DEFAULT_PORTS) as (keyof Ports)[]) {
    let p = await freePort();
    while (seen.has(p)) p = await freePort();
    seen.add(p);
    out[key] = p;
  }
  return out as Ports;
}

/** Checks, before anything starts, that the given ports are distinct and free; names the first conflict. */
export async function assertPortsFree(ports: Ports, keys: readonly (keyof Ports)[]): Promise<void> {
  const byPort = new Map<number, keyof Ports>();
  for (const key of keys) {
    const other = byPort.get(ports[key]);
    if (other) {
      throw new UserError(`port ${ports[key]} is given to both the ${PORT_LABELS[other]} and the ${PORT_LABELS[key]}`, `sagewai-obs up ${PORT_FLAGS[key]} <another port>`);
    }
    byPort.set(ports[key], key);
  }
  for (const key of keys) {
    if (!(await isPortFree(ports[key]))) {
      throw new UserError(`port ${ports[key]} (${PORT_LABELS[key]}) on 127.0.0.1 is already in use`, [
        `sagewai-obs up ${PORT_FLAGS[key]} <free port>`,
        `find the process holding it: ss -ltnp 'sport = :${ports[key]}'`,
      ]);
    }
  }
}
