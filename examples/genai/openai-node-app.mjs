// A small LLM app as a team would write it: the official `openai` npm client, instrumented by the
// official @opentelemetry/instrumentation-openai, exporting OTLP to sagewai-obs's collector.
// Nothing in it knows about sagewai-obs: the tenant comes from standard resource attributes.
//
//   OPENAI_BASE_URL=http://127.0.0.1:8010/v1 OPENAI_API_KEY=any \
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_SERVICE_NAME=support-bot \
//   OTEL_RESOURCE_ATTRIBUTES=tenant.id=acme \
//   GENAI_APP_CALLS='[{"model":"gpt-4o-mini","prompt":"Where is order 12?","stream":false}]' \
//   node examples/genai/openai-node-app.mjs
//
// Prints one JSON line per call with the usage the API returned.
import { createRequire } from 'node:module';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';

process.env.OTEL_LOGS_EXPORTER ??= 'none';

const sdk = new NodeSDK({
  traceExporter: new OTLPTraceExporter(),
  metricReaders: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: 1000 })],
  instrumentations: [new OpenAIInstrumentation()],
});
sdk.start();

// Loaded after the SDK started, through require, so the instrumentation patches it.
const require = createRequire(import.meta.url);
const { default: OpenAI } = require('openai');

const calls = JSON.parse(process.env.GENAI_APP_CALLS ?? '[]');
const client = new OpenAI({ maxRetries: 0, project: process.env.GENAI_APP_PROJECT ?? null });
const system = 'You are the support assistant of an online shop. Answer briefly.';

try {
  for (const c of calls) {
    const messages = [
      { role: 'system', content: system },
      { role: 'user', content: c.prompt },
    ];
    let usage;
    if (c.stream) {
      const stream = await client.chat.completions.create({ model: c.model, messages, stream: true, stream_options: { include_usage: true } });
      for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    } else {
      usage = (await client.chat.completions.create({ model: c.model, messages })).usage;
    }
    console.log(JSON.stringify({ model: c.model, stream: Boolean(c.stream), usage }));
  }
} finally {
  await sdk.shutdown();
}
