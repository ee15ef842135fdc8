// The server-sent-events parser lives in src/clients/sse.ts; this path is kept for existing imports.
export * from '../../src/clients/sse.js';
