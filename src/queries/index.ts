/** The one query catalog: every number shown anywhere is defined here (DESIGN "One query catalog"). */
export { catalog, COST_DIMENSIONS, type CostDimension } from './catalog.js';
export { getEntry, renderExpr, escapeRegex, DEFAULT_RATE_INTERVAL, type RenderOptions } from './render.js';
export { ROWS, SRE_ROWS, type CatalogEntry, type Datasource, type PanelSpec, type PanelType, type RowTitle } from './types.js';
export { auditQuery, backendLogsQuery, eventGlobToRegex, type AuditQueryOptions } from './logs.js';
