import { describeTransportConformance } from './conformance.js';

describeTransportConformance('rdkafka');
