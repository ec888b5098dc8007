import { describeTransportConformance } from './conformance.js';

describeTransportConformance('kafkajs');
