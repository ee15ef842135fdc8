import { logs, SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { ATTR_EVENT_NAME, ATTR_SAGEWAI_ACTOR, ATTR_SAGEWAI_PROJECT_ID } from './semconv.js';

/**
 * Audit events as OTel log records (CONTRACT.md "Logs"): body = event name, attributes
 * event.name, sagewai.project_id, sagewai.actor and event fields. Callers pass ids and numbers
 * only — never an e-mail, password, token, secret or prompt text.
 */
export type AuditEvent =
  | 'setup.completed'
  | 'pricing.book.imported'
  | 'finance.month.closed'
  | 'auth.login.success'
  | 'auth.login.failed'
  | 'auth.login.throttled'
  | 'auth.logout'
  | 'project.created'
  | 'agent.created'
  | 'agent.run.started'
  | 'agent.run.completed'
  | 'agent.run.error'
  | 'provider.test.success'
  | 'provider.test.failed'
  | 'budget.threshold'
  | 'budget.warning'
  | 'budget.exceeded'
  | 'budget.deleted'
  | 'pricing.unpriced'
  | 'fleet.worker.registered'
  | 'fleet.worker.lost'
  | 'fleet.task.queued'
  | 'fleet.task.claimed'
  | 'fleet.task.completed'
  | 'fleet.task.failed';

// Looked up once (a ProxyLogger until the SDK registers): getLogger on every record cost a provider lookup.
const logger = logs.getLogger('sagewai-admin');

const FORBIDDEN = /(password|secret|token|email|e-mail|prompt|message)$/i;
const checkedKeys = new Set<string>();

const WARN_EVENTS = new Set<AuditEvent>(['auth.login.failed', 'auth.login.throttled', 'agent.run.error', 'budget.warning', 'budget.exceeded', 'pricing.unpriced', 'fleet.worker.lost', 'fleet.task.failed', 'provider.test.failed']);

export function audit(event: AuditEvent, project: string | undefined, actor: string | undefined, fields: Record<string, string | number | boolean | undefined> = {}): void {
  const attributes: AnyValueMap = { [ATTR_EVENT_NAME]: event };
  if (project) attributes[ATTR_SAGEWAI_PROJECT_ID] = project;
  if (actor) attributes[ATTR_SAGEWAI_ACTOR] = actor;
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined) continue;
    // A guard against a future caller leaking a credential or prompt by name. Field names are
    // constants in the code, so each is checked once (the regex ran on every field of every event).
    if (!checkedKeys.has(k)) {
      if (FORBIDDEN.test(k)) throw new Error(`audit attribute ${k} is not allowed`);
      if (checkedKeys.size < 1000) checkedKeys.add(k);
    }
    attributes[k] = v;
  }
  const warn = WARN_EVENTS.has(event);
  logger.emit({
    eventName: event,
    body: event,
    severityNumber: warn ? SeverityNumber.WARN : SeverityNumber.INFO,
    severityText: warn ? 'WARN' : 'INFO',
    attributes,
  });
}

/** One record per 4xx/5xx response (CONTRACT.md "Request logs"). */
export function requestLog(method: string, route: string, status: number, project: string | undefined, code: string | undefined): void {
  const attributes: AnyValueMap = { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status };
  if (project) attributes[ATTR_SAGEWAI_PROJECT_ID] = project;
  if (code) attributes['error.type'] = code;
  const error = status >= 500;
  logger.emit({
    body: `${method} ${route} ${status}`,
    severityNumber: error ? SeverityNumber.ERROR : SeverityNumber.WARN,
    severityText: error ? 'ERROR' : 'WARN',
    attributes,
  });
}
