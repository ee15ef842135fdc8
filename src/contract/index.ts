/**
 * The wire contract of the admin backend, in one place: zod schemas of requests and answers,
 * their inferred types, the operation table and the OpenAPI rendering. Imported by the server
 * (src/backend), the client (src/clients/backend.ts) and the HUD (src/hud).
 */
import type { z } from 'zod';
import type * as res from './responses.js';

export * as requests from './requests.js';
export * as responses from './responses.js';
export { operations, responsesOf, allowedMethods, pathParams, type Operation, type OperationId, type ResponseSpec, type Auth, type Tenant, type Area, type Method } from './operations.js';

export type LiveState = z.infer<typeof res.liveState>;
export type Project = z.infer<typeof res.project>;
export type User = z.infer<typeof res.user>;
export type Agent = z.infer<typeof res.agent>;
export type RunUsage = z.infer<typeof res.runUsage>;
export type RunFinished = z.infer<typeof res.runFinished>;
export type RunItem = z.infer<typeof res.runItem>;
export type RunList = z.infer<typeof res.runList>;
export type RegisteredWorker = z.infer<typeof res.registeredWorker>;
export type FleetTask = z.infer<typeof res.task>;
export type FleetWorker = z.infer<typeof res.worker>;
export type CostGroup = z.infer<typeof res.costGroup>;
export type CostReport = z.infer<typeof res.costReport>;
export type BudgetScope = z.infer<typeof res.budgetScope>;
export type BudgetWindow = z.infer<typeof res.budgetWindow>;
export type BudgetAction = z.infer<typeof res.budgetAction>;
export type BudgetLimit = z.infer<typeof res.budgetLimit>;
export type BudgetStatus = z.infer<typeof res.budgetStatus>;
export type HealthSummary = z.infer<typeof res.health>;
export type ProviderTest = z.infer<typeof res.providerTest>;
export type ApiErrorBody = z.infer<typeof res.errorBody>;
