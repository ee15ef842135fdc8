import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { UserError } from '../errors.js';

export default class Provider extends BaseCommand<typeof Provider> {
  static override summary = 'Run the simulated LLM provider behind the OpenAI Chat Completions API';
  static override description =
    'Serves POST /v1/chat/completions (streaming and not, with the usage block and cached prompt tokens), GET /v1/models and GET /v1/calls (every call answered, with its true token counts). ' +
    'Deterministic for a seed and a call order, no key needed (any API key is accepted). Point an app built on an official OpenAI client at it with OPENAI_BASE_URL.';
  static override examples = [
    '<%= config.bin %> provider',
    'OPENAI_BASE_URL=http://127.0.0.1:8010/v1 OPENAI_API_KEY=sim node my-app.js',
    '<%= config.bin %> provider --port 0 --latency-scale 0 --json',
  ];
  static override flags = {
    host: Flags.string({ description: 'Interface to bind', env: 'SAGEWAI_OBS_PROVIDER_HOST', default: '127.0.0.1' }),
    port: Flags.integer({ description: 'Port (0 = any free port)', env: 'SAGEWAI_OBS_PROVIDER_PORT', default: 8010, min: 0, max: 65535 }),
    seed: Flags.integer({ description: 'Seed of the simulator', env: 'SAGEWAI_OBS_SEED', default: 42 }),
    'latency-scale': Flags.string({ description: 'Multiplier of simulated latency (0 = instant)', env: 'SAGEWAI_OBS_LATENCY_SCALE', default: '1' }),
    'cache-min-tokens': Flags.integer({ description: 'A repeated prompt prefix of at least this many tokens is billed as cached input', env: 'SAGEWAI_OBS_PROVIDER_CACHE_MIN_TOKENS', default: 64, min: 1 }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const scale = Number(f['latency-scale']);
    if (!Number.isFinite(scale) || scale < 0 || scale > 100) throw new UserError(`invalid --latency-scale ${JSON.stringify(f['latency-scale'])}: expected a number 0–100`, 'sagewai-obs provider --latency-scale 0');
    const { startOpenAiProvider } = await import('../provider/openai-compat.js');
    const running = await startOpenAiProvider({ host: f.host, port: f.port, seed: f.seed, latencyScale: scale, cacheMinTokens: f['cache-min-tokens'] }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') throw new UserError(`port ${f.port} on ${f.host} is already in use`, [`sagewai-obs provider --port ${f.port + 1}`, 'sagewai-obs provider --port 0']);
      throw err;
    });
    const result = { url: running.url, port: running.port, seed: f.seed };
    // One line either way, so a parent process can read the URL as soon as it is ready. The command
    // runs until stopped, so under --json that line is its result; nothing more is printed at exit.
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(result)}\n`);
    else this.printLine(`simulated OpenAI-compatible provider on ${running.url}`);
    this.progress(`set OPENAI_BASE_URL=${running.url} in your app (Ctrl-C or SIGTERM to stop)`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        void running.close().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    return this.jsonEnabled() ? undefined : { ...result, calls: running.calls().length };
  }
}
