import { describe, expect, it } from 'vitest';
import { parseJsonLines } from '../src/clients/victoria-logs.js';
import { auditQuery, eventGlobToRegex } from '../src/queries/index.js';
import { auditLine, toAuditEvent } from '../src/report/audit.js';

describe('audit query', () => {
  it('turns an event glob into an anchored regex that matches only that family', () => {
    const re = new RegExp(eventGlobToRegex('auth.login.*'));
    expect(re.test('auth.login.success')).toBe(true);
    expect(re.test('auth.login.failed')).toBe(true);
    expect(re.test('auth.logout')).toBe(false);
    expect(re.test('xauth.loginXsuccess')).toBe(false);
    expect(new RegExp(eventGlobToRegex('agent.run.?ompleted')).test('agent.run.completed')).toBe(true);
  });

  it('scopes by project and event, newest first with a limit; a tail query has no pipes', () => {
    expect(auditQuery({ event: 'agent.run.*', project: 'acme-support', limit: 50 })).toBe(
      'event.name:* sagewai.project_id:~"^(acme-support)$" event.name:~"^agent\\\\.run\\\\..*$" | sort by (_time desc) | limit 50',
    );
    expect(auditQuery({})).toBe('event.name:* sagewai.project_id:~"^(.*)$"');
  });
});

describe('audit events', () => {
  it('reads VictoriaLogs JSON lines into events without stream noise', () => {
    const [r] = parseJsonLines('{"_time":"2026-11-26T12:00:00Z","_msg":"agent.run.completed","_stream":"{}","event.name":"agent.run.completed","sagewai.project_id":"acme","sagewai.actor":"u1","sagewai.run.id":"r1","service.name":"sagewai-admin","severity_text":"INFO"}\n\n');
    const e = toAuditEvent(r!);
    expect(e).toEqual({ time: '2026-11-26T12:00:00Z', event: 'agent.run.completed', project: 'acme', actor: 'u1', severity: 'INFO', fields: { 'sagewai.run.id': 'r1' } });
    expect(auditLine(e)).toBe('2026-11-26T12:00:00Z  agent.run.completed  acme  u1  sagewai.run.id=r1');
  });
});
