/**
 * Semantic-convention names that are not (yet) in the stable entry point of
 * @opentelemetry/semantic-conventions, copied here so the backend never imports the incubating
 * entry (its names may change between releases), plus our own sagewai.* names from CONTRACT.md.
 */
export const METRIC_HTTP_SERVER_ACTIVE_REQUESTS = 'http.server.active_requests';
export const METRIC_HTTP_SERVER_RESPONSE_BODY_SIZE = 'http.server.response.body.size';
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';

export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
export const ATTR_EVENT_NAME = 'event.name';

export const ATTR_SAGEWAI_PROJECT_ID = 'sagewai.project_id';
export const ATTR_SAGEWAI_AGENT_NAME = 'sagewai.agent.name';
export const ATTR_SAGEWAI_PRICED = 'sagewai.priced';
/** The price book version that priced a call (on every ledger-backed LLM series). */
export const ATTR_SAGEWAI_PRICEBOOK_VERSION = 'sagewai.pricebook.version';
export const ATTR_SAGEWAI_RUN_OUTCOME = 'sagewai.run.outcome';
export const ATTR_SAGEWAI_RUN_ID = 'sagewai.run.id';
export const ATTR_SAGEWAI_ACTOR = 'sagewai.actor';
export const ATTR_SAGEWAI_COST_USD = 'sagewai.cost.usd';
export const ATTR_SAGEWAI_BUDGET_SCOPE = 'sagewai.budget.scope';
export const ATTR_SAGEWAI_BUDGET_SUBJECT = 'sagewai.budget.subject';
export const ATTR_SAGEWAI_BUDGET_WINDOW = 'sagewai.budget.window';
export const ATTR_SAGEWAI_BUDGET_ACTION = 'sagewai.budget.action';
export const ATTR_SAGEWAI_FLEET_POOL = 'sagewai.fleet.pool';
export const ATTR_SAGEWAI_FLEET_WORKER_STATE = 'sagewai.fleet.worker.state';
export const ATTR_SAGEWAI_FLEET_TASK_EVENT = 'sagewai.fleet.task.event';
export const ATTR_SAGEWAI_FLEET_CLAIM_RESULT = 'sagewai.fleet.claim.result';
export const ATTR_SAGEWAI_AUTH_OUTCOME = 'sagewai.auth.outcome';
