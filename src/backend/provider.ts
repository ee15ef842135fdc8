import crypto from 'node:crypto';

/**
 * The simulated LLM provider: no key, no cost, deterministic for a seed. Token counts come from
 * the prompt length and a per-model output distribution; latency is short but shaped like a real
 * stream (time to first token, then deltas); failures are injected at configurable rates.
 */
export type FailureKind = 'rate_limit' | 'timeout' | 'server_error';

export interface FailureRates {
  rate_limit: number;
  timeout: number;
  server_error: number;
}

export interface SimulatorOptions {
  seed: number;
  failureRates: FailureRates;
  /** Multiplies every delay; 0 makes calls instant (tests), 1 is the default shape. */
  latencyScale: number;
}

export interface SimCall {
  model: string;
  systemPrompt: string;
  message: string;
  maxOutputTokens: number;
  simulate?: { input_tokens?: number | undefined; cached_input_tokens?: number | undefined; output_tokens?: number | undefined; reasoning_tokens?: number | undefined; fail?: FailureKind | undefined } | undefined;
}

export interface SimPlan {
  inputTokens: number;
  cachedInputTokens: number;
  /** The visible answer, reasoning excluded. */
  outputTokens: number;
  /** Reasoning (thinking) tokens; output + reasoning is what OpenAI reports as completion_tokens. */
  reasoningTokens: number;
  failure: FailureKind | undefined;
  text: string;
  /** Delay before each delta, ms. */
  delays: number[];
  deltas: string[];
}

export class ProviderError extends Error {
  constructor(readonly kind: FailureKind) {
    super(kind === 'rate_limit' ? 'provider rate limit (simulated 429)' : kind === 'timeout' ? 'provider timed out (simulated)' : 'provider server error (simulated 500)');
    this.name = 'ProviderError';
  }
}

/** Mean and spread of output tokens by model family; anything else gets the default. */
const OUTPUT_SHAPE: Array<[RegExp, number, number]> = [
  [/haiku|mini|nano|flash/, 180, 70],
  [/opus/, 650, 220],
  [/sonnet|gpt-4o$|gpt-4\.1$|gpt-5$|pro/, 420, 150],
];
const DEFAULT_SHAPE: [number, number] = [260, 100];

/**
 * Models that think before they answer (OpenAI's o-series and GPT-5 family): part of their
 * completion is reasoning tokens, billed but never shown. Exact ids and aliases with a namespace.
 */
export const REASONING_MODEL = /^(openai\/)?(o\d|gpt-5)([.-]|$)/;

const WORDS = 'the agent reviewed ticket customer order refund policy summary draft reply escalate priority account billing issue resolved update next steps context analysis recommend schedule follow confirm details'.split(' ');

function rng(seedText: string): () => number {
  let h = crypto.createHash('sha256').update(seedText).digest().readUInt32LE(0);
  return () => {
    h = (h + 0x6d2b79f5) >>> 0;
    let t = h;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rough but stable: ~4 characters per token, at least one. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export class SimulatedProvider {
  private counter = 0;
  constructor(private readonly opts: SimulatorOptions) {}

  /**
   * Plans a call. Deterministic for (seed, call sequence number, model, prompt): replaying the
   * same sequence of calls against a fresh backend with the same seed gives the same numbers.
   */
  plan(call: SimCall): SimPlan {
    const seq = this.counter++;
    const r = rng(`${this.opts.seed}|${seq}|${call.model}|${call.message}`);
    const sim = call.simulate ?? {};
    const inputTokens = sim.input_tokens ?? estimateTokens(call.systemPrompt) + estimateTokens(call.message);
    const cachedInputTokens = sim.cached_input_tokens ?? 0;
    const [mean, spread] = OUTPUT_SHAPE.find(([re]) => re.test(call.model))?.slice(1) as [number, number] | undefined ?? DEFAULT_SHAPE;
    const sampled = Math.round(mean + (r() + r() + r() - 1.5) * 2 * spread);
    const completion = Math.max(1, Math.min(call.maxOutputTokens, sampled));
    let outputTokens: number;
    let reasoningTokens: number;
    if (sim.output_tokens !== undefined || sim.reasoning_tokens !== undefined) {
      // Told exactly: what is not told is none (reasoning) or the sample (output).
      reasoningTokens = sim.reasoning_tokens ?? 0;
      outputTokens = sim.output_tokens ?? completion;
    } else if (REASONING_MODEL.test(call.model)) {
      // 30–70 % of the completion is thinking; the completion stays within maxOutputTokens, as a
      // provider's max_completion_tokens bounds both. Only these models draw this extra number, so
      // every other model's sequence is what it was before reasoning existed.
      reasoningTokens = Math.min(completion - 1, Math.round(completion * (0.3 + r() * 0.4)));
      outputTokens = completion - reasoningTokens;
    } else {
      reasoningTokens = 0;
      outputTokens = completion;
    }
    let failure: FailureKind | undefined = sim.fail;
    if (!failure) {
      const x = r();
      const f = this.opts.failureRates;
      if (x < f.rate_limit) failure = 'rate_limit';
      else if (x < f.rate_limit + f.timeout) failure = 'timeout';
      else if (x < f.rate_limit + f.timeout + f.server_error) failure = 'server_error';
    }
    const words = Math.min(48, Math.max(3, Math.round(outputTokens * 0.75)));
    const out: string[] = [];
    for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(r() * WORDS.length)] as string);
    const text = `${out.join(' ')}.`;
    const chunks = Math.min(8, Math.max(1, Math.ceil(words / 6)));
    const deltas: string[] = [];
    const per = Math.ceil(out.length / chunks);
    for (let i = 0; i < out.length; i += per) deltas.push(out.slice(i, i + per).join(' ') + (i + per >= out.length ? '.' : ' '));
    const s = this.opts.latencyScale;
    // Time to first token 20–80 ms (plus up to 200 ms of thinking), then ~0.15 ms per output token spread over the deltas.
    const ttft = (20 + r() * 60 + Math.min(200, reasoningTokens * 0.05)) * s;
    const streamMs = Math.min(220, outputTokens * 0.15) * s;
    const delays = deltas.map((_, i) => (i === 0 ? ttft : streamMs / deltas.length));
    return { inputTokens, cachedInputTokens, outputTokens, reasoningTokens, failure, text, delays, deltas };
  }

  /** Plays a plan: calls onDelta per chunk, throws ProviderError for an injected failure. */
  async play(plan: SimPlan, onDelta: (delta: string) => void): Promise<void> {
    const s = this.opts.latencyScale;
    if (plan.failure === 'rate_limit') {
      await sleep(5 * s);
      throw new ProviderError('rate_limit');
    }
    if (plan.failure === 'timeout') {
      await sleep(150 * s);
      throw new ProviderError('timeout');
    }
    const failAt = plan.failure === 'server_error' ? Math.floor(plan.deltas.length / 2) : -1;
    for (let i = 0; i < plan.deltas.length; i++) {
      await sleep(plan.delays[i] ?? 0);
      if (i === failAt) throw new ProviderError('server_error');
      onDelta(plan.deltas[i] as string);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms));
}
