"""A small LLM app as a team would write it in Python: the official `openai` client, instrumented
by the official opentelemetry-instrumentation-openai-v2, exporting OTLP/HTTP to sagewai-obs's
collector. Nothing in it knows about sagewai-obs: the tenant comes from standard resource
attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).

    OPENAI_BASE_URL=http://127.0.0.1:8010/v1 OPENAI_API_KEY=any \\
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 OTEL_SERVICE_NAME=billing-bot \\
    OTEL_RESOURCE_ATTRIBUTES=tenant.id=acme \\
    GENAI_APP_CALLS='[{"model": "gpt-4o-mini", "prompt": "Where is order 12?", "stream": false}]' \\
    python examples/genai/openai_python_app.py

Prints one JSON line per call with the usage the API returned.
"""

import json
import os

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create())
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument()

from openai import OpenAI  # noqa: E402  (after instrumenting, as the instrumentation's docs show)

SYSTEM = "You are the support assistant of an online shop. Answer briefly."

client = OpenAI(max_retries=0, project=os.environ.get("GENAI_APP_PROJECT"))
try:
    for c in json.loads(os.environ.get("GENAI_APP_CALLS", "[]")):
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": c["prompt"]}]
        usage = None
        if c.get("stream"):
            stream = client.chat.completions.create(model=c["model"], messages=messages, stream=True, stream_options={"include_usage": True})
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage.model_dump()
        else:
            usage = client.chat.completions.create(model=c["model"], messages=messages).usage.model_dump()
        print(json.dumps({"model": c["model"], "stream": bool(c.get("stream")), "usage": usage}), flush=True)
finally:
    provider.shutdown()
