import http from 'node:http';

/**
 * One HTTP request, the whole answer as text, on node:http (node:https loaded only for an https
 * URL). The VictoriaMetrics client uses it instead of undici because `cost` and the other one-shot
 * commands pay for their imports on every run: undici's package is ~110 modules (~0.1 s on an idle
 * 2-core machine, 0.3–0.5 s on a busy one), node:http is already in the runtime.
 */
export interface TextResponse {
  statusCode: number;
  text: string;
}

export async function httpText(url: string, opts: { method: 'GET' | 'POST'; body?: string; headers?: Record<string, string>; timeoutMs: number }): Promise<TextResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? await import('node:https') : http;
  return new Promise<TextResponse>((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
    const req = mod.request(u, { method: opts.method, headers, timeout: opts.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // No answer (headers or the next body chunk) within the timeout: give up, as undici's headers/body timeouts did.
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(opts.body);
  });
}
