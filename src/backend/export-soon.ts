/**
 * A hint from the ledger totals to the metric reader: a series has just appeared, or has just
 * moved off 0 (a tenant's, agent's or model's first cost). Its first number then reaches the
 * collector within ~0.1 s instead of waiting up to a whole export interval; later changes of the
 * same series ride the periodic export, so steady load causes no extra exports.
 *
 * Plain code with no OpenTelemetry import: instruments.ts calls exportSoon(), and telemetry.ts,
 * the only file that wires the SDK, installs what it does (a debounced forceFlush).
 */
let handler: (() => void) | undefined;

export function setExportSoonHandler(fn: (() => void) | undefined): void {
  handler = fn;
}

export function exportSoon(): void {
  handler?.();
}
