/** Child process of bench/pipeline.ts: produces a paced stream (see pacedProduce) and reports over IPC. */
import { loadTransport, type PacedJob, pacedProduce } from './load.js';
import { sensorPool } from './sensor.js';

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as PacedJob;
  const pool = sensorPool(job.poolSize, 23);
  const transport = loadTransport(job.bootstrap, 'bench-paced');
  const producer = transport.producer({ lingerMs: job.lingerMs });
  await producer.connect();
  const result = await pacedProduce(producer, job, pool);
  await producer.close();
  await transport.close();
  await new Promise<void>((resolve) => process.send!({ type: 'result', result }, () => resolve()));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
