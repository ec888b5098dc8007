// vitest globalSetup of the integration project (see vitest.config.ts). Finds or starts the broker and the
// schema registry once per run and hands their addresses to the test files via provide/inject:
//   Kafka:    KAFKA_BROKERS as given > testcontainers when Docker answers > deploy/kafka/kafkactl.sh
//   registry: REGISTRY_URL as given > deploy/registry/registryctl.sh
// Local instances are shared through leases: this run stops only what it started, and only when no other
// live run still uses it (kafkactl.sh release). Tests read the values through test/support/kafka.ts.
import type { TestProject } from 'vitest/node';
import './context.js';
import { startServices } from './services.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startServices({ env: process.env, holderPid: process.pid });
  project.provide('vigilKafka', services.kafka);
  project.provide('vigilRegistry', services.registry);
  return () => services.stop();
}
