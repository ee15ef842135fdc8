import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../src/contract/openapi.js';
import { budgetBody, setupBody } from '../src/contract/requests.js';
import { runEvents } from '../src/contract/responses.js';

// What the published document states that a fuzzer generating from it relies on: rules between
// fields written as JSON Schema, formats the server accepts in full, one schema per stream event.
type Schema = Record<string, unknown>;
const doc = buildOpenApi('test') as unknown as { paths: Record<string, Record<string, { requestBody?: { required: boolean; content: Record<string, { schema: Schema }> }; responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>> };

describe('the request schemas and their JSON Schema', () => {
  it('an e-mail address in RFC 5322 dot-atom form is accepted; malformed ones are not', () => {
    const setup = (admin_email: string): boolean => setupBody.safeParse({ org_name: 'Org', admin_email, admin_password: 'long enough' }).success;
    for (const ok of ['admin@example.test', '35/+t9+~5@gv4ghsvb.h72pjxj5.io', "o'brien.x@mail.example.co.uk", 'a_b-c{d}@x-y.io']) expect(setup(ok), ok).toBe(true);
    for (const bad of ['admin', 'a@b', '@example.io', 'a..b@example.io', '.a@example.io', 'a b@example.io', 'a@-x.io', 'a@x..io']) expect(setup(bad), bad).toBe(false);
    const prop = (doc.paths['/api/v1/setup']?.post?.requestBody?.content['application/json']?.schema.properties as Record<string, Schema>).admin_email;
    expect(prop).toMatchObject({ type: 'string', format: 'email', maxLength: 320 });
    expect(prop).not.toHaveProperty('pattern');
  });

  it("a budget's scope/subject and throttle/fallback rules are refused by the schema and stated as if/then", () => {
    const base = { window: 'daily', limit_usd: 1, action: 'stop' };
    expect(budgetBody.safeParse({ ...base, scope: 'project' }).success).toBe(true);
    expect(budgetBody.safeParse({ ...base, scope: 'team', subject: 'eng' }).success).toBe(true);
    const noSubject = budgetBody.safeParse({ ...base, scope: 'user' });
    expect(noSubject.success).toBe(false);
    expect(noSubject.error?.issues.map((i) => i.path.join('.'))).toEqual(['subject']);
    expect(budgetBody.safeParse({ ...base, scope: 'project', action: 'throttle' }).error?.issues.map((i) => i.path.join('.'))).toEqual(['fallback_model']);
    const body = doc.paths['/api/v1/budget/limits']?.post?.requestBody;
    expect(body?.required).toBe(true);
    expect(body?.content['application/json']?.schema.allOf).toEqual([
      { if: { properties: { scope: { enum: ['team', 'user'] } }, required: ['scope'] }, then: { required: ['subject'] } },
      { if: { properties: { action: { const: 'throttle' } }, required: ['action'] }, then: { required: ['fallback_model'] } },
    ]);
  });

  it('a body whose fields are all optional is an optional request body; one with a required field is required', () => {
    expect(doc.paths['/api/v1/projects/{slug}/tokens']?.post?.requestBody?.required).toBe(false);
    expect(doc.paths['/api/v1/projects']?.post?.requestBody?.required).toBe(true);
  });

  it("the run's event stream documents each event as {event, data} with the event's JSON in data", () => {
    const schema = doc.paths['/playground/run']?.post?.responses['200']?.content?.['text/event-stream']?.schema as { oneOf: Array<{ properties: { event: { const: string }; data: Schema } }> };
    expect(schema.oneOf.map((e) => e.properties.event.const).sort()).toEqual(Object.keys(runEvents).sort());
    for (const e of schema.oneOf) expect(e.properties.data).toMatchObject({ type: 'string', contentMediaType: 'application/json' });
  });
});
