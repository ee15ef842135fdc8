import path from 'node:path';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { resolveStateDir } from '../clients/endpoints.js';
import { PriceBookError } from '../backend/pricebook.js';
import { UserError } from '../errors.js';
import { parseDuration } from '../settings.js';

const rate = (name: string, env: string) => Flags.string({ description: `Injected ${name} rate of the simulated provider, 0–1`, env, default: '0', helpGroup: 'SIMULATOR' });

export default class Serve extends BaseCommand<typeof Serve> {
  static override summary = 'Run the instrumented admin backend (API, cost ledger, budgets, simulated LLM provider)';
  static override description = 'Exports metrics, logs and traces over OTLP/HTTP as configured by the standard OTEL_* variables (default http://localhost:4318). SIGTERM drains requests and flushes telemetry.';
  static override examples = ['<%= config.bin %> serve', '<%= config.bin %> serve --port 0 --data-dir ./data', 'OTEL_SDK_DISABLED=true <%= config.bin %> serve --failure-rate-server-error 0.05',
    '<%= config.bin %> serve --port 8001 --database postgres://sagewai@127.0.0.1:5432/sagewai --instance-id backend-1',
    '<%= config.bin %> serve --price-book ./pricebook-2027-01.json',
  ];
  static override flags = {
    host: Flags.string({ description: 'Interface to bind', env: 'SAGEWAI_OBS_SERVE_HOST', default: '127.0.0.1' }),
    port: Flags.integer({ description: 'Port (0 = any free port)', env: 'SAGEWAI_OBS_SERVE_PORT', default: 8000, min: 0, max: 65535 }),
    'data-dir': Flags.string({ description: 'Backend data directory [default: <state-dir>/backend]', env: 'SAGEWAI_OBS_DATA_DIR' }),
    'state-dir': Flags.string({ description: 'State directory (backend.json is written here) [default: $XDG_STATE_HOME/sagewai-obs]', env: 'SAGEWAI_OBS_STATE_DIR' }),
    seed: Flags.integer({ description: 'Seed of the simulated LLM provider', env: 'SAGEWAI_OBS_SEED', default: 42 }),
    telemetry: Flags.boolean({ description: 'Export OTLP telemetry (--no-telemetry to disable)', env: 'SAGEWAI_OBS_TELEMETRY', default: true, allowNo: true }),
    'failure-rate-rate-limit': rate('rate-limit', 'SAGEWAI_OBS_FAILURE_RATE_RATE_LIMIT'),
    'failure-rate-timeout': rate('timeout', 'SAGEWAI_OBS_FAILURE_RATE_TIMEOUT'),
    'failure-rate-server-error': rate('server-error', 'SAGEWAI_OBS_FAILURE_RATE_SERVER_ERROR'),
    'latency-scale': Flags.string({ description: 'Multiplier of simulated latency (0 = instant)', env: 'SAGEWAI_OBS_LATENCY_SCALE', default: '1', helpGroup: 'SIMULATOR' }),
    'worker-lost-after': Flags.string({ description: 'A fleet worker without heartbeat for this long is lost', env: 'SAGEWAI_OBS_WORKER_LOST_AFTER', default: '30s' }),
    database: Flags.string({ description: 'PostgreSQL URL (postgres://user:password@host:5432/db) for the ledger, shared by several serve replicas; default: the embedded SQLite ledger in --data-dir', env: 'SAGEWAI_OBS_DATABASE_URL', helpGroup: 'REPLICAS' }),
    'instance-id': Flags.string({ description: "This replica's service.instance.id on --database (keep it across restarts so the replica resumes its own metric totals) [default: a random id per process]", env: 'SAGEWAI_OBS_INSTANCE_ID', helpGroup: 'REPLICAS' }),
    'price-book': Flags.string({ description: 'Price book to start with [default: the bundled assets/pricebook.json]; a version new to the ledger (--data-dir or --database) prices calls from now (or its later effective_from) on, never the past', env: 'SAGEWAI_OBS_PRICE_BOOK' }),
    'body-limit': Flags.integer({ description: 'Largest request body in bytes', env: 'SAGEWAI_OBS_BODY_LIMIT', default: 1_048_576, min: 1024 }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const num = (name: string, raw: string, max: number): number => {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0 || n > max) throw new UserError(`invalid --${name} ${JSON.stringify(raw)}: expected a number 0–${max}`, `sagewai-obs serve --${name} 0.05`);
      return n;
    };
    const stateDir = resolveStateDir(f['state-dir']);
    const database = f.database?.trim() || undefined;
    const instanceId = f['instance-id'];
    if (instanceId !== undefined) {
      if (!database) throw new UserError('--instance-id names a replica on a shared PostgreSQL database; the SQLite ledger keeps its own id', 'sagewai-obs serve --database postgres://… --instance-id backend-1');
      if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(instanceId)) throw new UserError(`invalid --instance-id ${JSON.stringify(instanceId)}: use letters, digits, '.', '_', ':' and '-' (at most 128)`, 'sagewai-obs serve --database postgres://… --instance-id backend-1');
    }
    // Loaded here, not at the top: the OpenTelemetry SDK behind it costs ~0.5 s to import, which
    // `serve --help` and any build without oclif.manifest.json would otherwise pay.
    const { serveBackend } = await import('../backend/main.js');
    const handle = await serveBackend({
      host: f.host,
      port: f.port,
      stateDir,
      dataDir: path.resolve(f['data-dir'] ?? path.join(stateDir, 'backend')),
      seed: f.seed,
      telemetry: f.telemetry,
      failureRates: { rate_limit: num('failure-rate-rate-limit', f['failure-rate-rate-limit'], 1), timeout: num('failure-rate-timeout', f['failure-rate-timeout'], 1), server_error: num('failure-rate-server-error', f['failure-rate-server-error'], 1) },
      latencyScale: num('latency-scale', f['latency-scale'], 100),
      workerLostAfterMs: parseDuration(f['worker-lost-after']),
      bodyLimit: f['body-limit'],
      version: this.config.version,
      database,
      instanceId,
      priceBookFile: f['price-book'],
    }).catch((err: NodeJS.ErrnoException) => {
      if (err instanceof PriceBookError) throw new UserError(`${f['price-book'] ?? 'the bundled price book'}:${err.line}: ${err.reason}`, 'fix that line, or give the book a new version and an effective_from after the loaded books (sagewai-obs prices list)');
      if (err.code === 'ENOENT' && f['price-book'] !== undefined && err.path === f['price-book']) throw new UserError(`cannot read the price book ${f['price-book']}`, 'pass the path of a JSON price book shaped like assets/pricebook.json');
      if (err.code === 'EADDRINUSE') throw new UserError(`port ${f.port} on ${f.host} is already in use`, [`sagewai-obs serve --port ${f.port + 1}`, 'sagewai-obs serve --port 0']);
      throw err;
    });
    const result = { ...handle.record, telemetry: handle.telemetryEnabled };
    // One line either way, so a parent process can read the URL as soon as it is ready. serve
    // runs until stopped, so under --json that line is its result; nothing more is printed at exit.
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(result)}\n`);
    else this.printLine(`sagewai-admin listening on ${handle.url}`);
    if (handle.staleLockOf) this.progress(`took over the data dir's lock from PID ${handle.staleLockOf.pid}, which is no longer running`);
    if (handle.record.database) this.progress(`database: ${handle.record.database}  instance: ${handle.record.instanceId}`);
    this.progress(`data: ${handle.dataDir}  telemetry: ${handle.telemetryEnabled ? 'on' : 'off'}  (Ctrl-C or SIGTERM to stop)`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        this.progress('draining…');
        void handle.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    return this.jsonEnabled() ? undefined : result;
  }
}
