import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { endpointFlags } from '../clients/endpoints.js';
import { CheckFailedError } from '../errors.js';
import { renderReport, runExample, type RunExampleReport } from '../run-example/index.js';
import { parseDuration } from '../settings.js';

export default class RunExample extends BaseCommand<typeof RunExample> {
  static override summary = 'Drive an example workload through the backend; --verify proves every panel and the cost reconciliation';
  static override description =
    'Starts the native stack and a backend when none is running (and stops them at the end unless --keep), drives the example over HTTP with live progress on stderr, and prints the proof. Exit 3 names every failed check. With --keep the command still exits; what it started runs on in the background, later commands on the same --state-dir use it, and `down` stops it.';
  static override examples = ['<%= config.bin %> run-example 43 --verify', '<%= config.bin %> run-example 43 --duration 30s --verify --json', '<%= config.bin %> run-example 34', '<%= config.bin %> run-example 40 --report fleet.json', '<%= config.bin %> run-example 43 --duration 30s --keep',
    '<%= config.bin %> run-example 43 --duration 30s --verify --backend-url http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003',
  ];

  static override args = {
    example: Args.string({ description: 'Example number: 43 (observatory live), 34 (cost tracking), 40 (fleet under load), 12 (budget enforcement), 17 (external GenAI apps: official OpenAI clients for Node and Python, instrumented)', required: true }),
  };

  static override flags = {
    duration: Flags.string({ description: 'How long a timed example drives load (43 default 180s; 40 at most)', env: 'SAGEWAI_OBS_DURATION' }),
    seed: Flags.integer({ description: 'Seed of the workload (same seed, same workload)', env: 'SAGEWAI_OBS_SEED' }),
    verify: Flags.boolean({ description: 'After the run, check every board panel, cost (ledger vs VictoriaMetrics), status classes and audit events', env: 'SAGEWAI_OBS_VERIFY', default: false }),
    keep: Flags.boolean({ description: 'Leave the stack and backend that run-example started running after it exits (the backend logs to serve.log in its data dir); later commands use them, `sagewai-obs down` stops both', env: 'SAGEWAI_OBS_KEEP', default: false }),
    report: Flags.string({ description: 'Also write the JSON report to this file', env: 'SAGEWAI_OBS_REPORT' }),
    ...endpointFlags,
    'backend-url': Flags.string({ description: 'Admin backend URL [default: the running `serve`, else http://127.0.0.1:8000]; several comma-separated URLs (replicas on one --database) share the load in turn', env: 'SAGEWAI_OBS_BACKEND_URL', helpGroup: 'ENDPOINT' }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    let report: RunExampleReport;
    try {
      report = await runExample({
        example: this.args.example,
        durationMs: f.duration === undefined ? undefined : parseDuration(f.duration),
        seed: f.seed,
        verify: f.verify,
        keep: f.keep,
        stateDir: f['state-dir'],
        backendUrl: f['backend-url'],
        vmUrl: f['vm-url'],
        vlUrl: f['vl-url'],
        token: f.token,
        reportFile: f.report,
        say: (line) => this.progress(line),
        signal: abort.signal,
      });
    } catch (err) {
      if (err instanceof CheckFailedError && !this.jsonEnabled()) for (const line of renderReport(err.result as RunExampleReport)) this.printLine(line);
      throw err;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
    if (!this.jsonEnabled()) for (const line of renderReport(report)) this.printLine(line);
    return report;
  }
}
