import crypto from 'node:crypto';
import { isMainThread, workerData } from 'node:worker_threads';

/**
 * Process-local counters and histograms (everything not backed by the ledger) start from 0 in
 * every process. On the same series a restart would look like a small increase or none at all
 * when the new process counts past the old value before VictoriaMetrics scrapes it, so these
 * carry `sagewai.boot.id` (one random id per process): each process writes its own series and
 * increase_pure() counts each from 0. Ledger-backed counters do not carry it; they resume from
 * the ledger on the same series. http.server.active_requests (a gauge-like up/down counter)
 * does not carry it either: the new process's value replaces the dead one's.
 *
 * One id per process, threads included: the telemetry worker (telemetry-worker.ts) is given the
 * main thread's id in its workerData.
 */
export const BOOT_ID: string = !isMainThread && typeof (workerData as { bootId?: unknown } | null)?.bootId === 'string' ? (workerData as { bootId: string }).bootId : crypto.randomBytes(4).toString('hex');
export const ATTR_SAGEWAI_BOOT_ID = 'sagewai.boot.id';
