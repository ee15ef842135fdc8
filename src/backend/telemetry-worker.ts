import { parentPort, workerData } from 'node:worker_threads';
import { createSdk } from './telemetry.js';

/**
 * The telemetry worker (started by telemetry.ts when `serve` exports telemetry): records the
 * finished requests the request thread sends it, in batches, as HTTP server spans and HTTP
 * histograms, with the same resource and exporters as the main thread's SDK. Its own SDK is
 * registered before http-telemetry.ts makes its instruments.
 */
interface WorkerData {
  serviceVersion: string;
  instanceId: string;
}

const port = parentPort;
if (port === null) throw new Error('telemetry-worker.js runs only as a worker thread');
const { sdk } = createSdk(workerData as WorkerData, { logs: false });
sdk.start();
const { recordFinishedBatch } = await import('./http-telemetry.js');

let failures = 0;
port.on('message', (m: unknown) => {
  if (Array.isArray(m)) {
    try {
      recordFinishedBatch(m);
    } catch (err) {
      // An exception here would end the worker and lose every batch after it; one bad batch is
      // reported (the first few times) and the worker goes on.
      if (failures++ < 3) process.stderr.write(`[sagewai-admin] telemetry worker: a batch of finished requests could not be recorded: ${(err as Error).message}\n`);
    }
    return;
  }
  if ((m as { shutdown?: boolean }).shutdown) {
    void sdk
      .shutdown()
      .catch(() => undefined)
      .then(() => port.postMessage({ done: true }));
  }
});
