// What the integration global setup (global-setup.ts) hands to test files through vitest's provide/inject.
// Values must survive structured cloning: plain data only.
import type { BrokerSource, RegistrySource } from './resolution.js';

export interface LocalBrokerInfo {
  /** PLAINTEXT port on 127.0.0.1. */
  port: number;
  stateDir: string;
  pid: number;
  log: string;
  clusterId: string;
  /** True when this test run started it (and so may stop it when the last run using it ends). */
  startedByHarness: boolean;
}

/** The SASL_SSL listener of the local broker (KAFKA_SECURITY=sasl_ssl, the harness default). */
export interface SaslSslInfo {
  brokers: string[];
  username: string;
  password: string;
  /** As Kafka names them: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. */
  mechanisms: string[];
  /** PEM file of the self-signed CA that signed the broker certificate (SANs localhost and 127.0.0.1). */
  caPemPath: string;
}

export interface VigilKafkaContext {
  brokers: string[];
  source: BrokerSource;
  local: LocalBrokerInfo | null;
  saslSsl: SaslSslInfo | null;
}

export interface VigilRegistryContext {
  /** Base URL of the Confluent-compatible API (for the local Apicurio: http://127.0.0.1:PORT/apis/ccompat/v7). */
  url: string | null;
  source: RegistrySource;
  /** Why no registry is available (url is null then). */
  error: string | null;
  /** Local registry process details, when registryctl.sh provides it. */
  local: { port: number; stateDir: string; pid: number; log: string; startedByHarness: boolean } | null;
}

declare module 'vitest' {
  interface ProvidedContext {
    vigilKafka: VigilKafkaContext;
    vigilRegistry: VigilRegistryContext;
  }
}
