import { describe, expect, it } from 'vitest';
import { JsonLinesDecoder } from '../src/clients/victoria-logs.js';

// `audit --follow` reads VictoriaLogs' tail as a byte stream cut into chunks at arbitrary places.
describe('JsonLinesDecoder', () => {
  const records = [
    { _msg: 'agent.run.completed', 'sagewai.project_id': 'café-gmbh', note: 'résumé ✓' },
    { _msg: 'auth.login.success', actor: '😀 operator' },
  ];
  const bytes = Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');

  it('keeps a character whole when a chunk boundary falls inside it', () => {
    // "é" is two bytes (c3 a9); cut between them.
    const cut = bytes.indexOf(Buffer.from('é', 'utf8')) + 1;
    const d = new JsonLinesDecoder();
    const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()];
    expect(got).toEqual(records);
    expect(JSON.stringify(got)).not.toContain('\ufffd');
  });

  it('survives every possible cut, including inside a four-byte emoji, and one byte at a time', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new JsonLinesDecoder();
      expect([...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()], `cut at byte ${cut}`).toEqual(records);
    }
    const d = new JsonLinesDecoder();
    const got = [];
    for (const b of bytes) got.push(...d.push(Uint8Array.of(b)));
    expect([...got, ...d.end()]).toEqual(records);
  });

  it('emits a record only once its line is complete, and the last one without a newline at the end', () => {
    const d = new JsonLinesDecoder();
    expect(d.push(Buffer.from('{"_msg":"a"}\n{"_msg":'))).toEqual([{ _msg: 'a' }]);
    expect(d.push(Buffer.from('"b"}'))).toEqual([]);
    expect(d.end()).toEqual([{ _msg: 'b' }]);
  });
});
