// The load-driver library lives in src/driver; this path is kept for existing imports.
export * from '../../src/driver/prng.js';
