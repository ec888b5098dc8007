import { describe, expect, it } from 'vitest';
import { isExpectedResponseError } from '../../../../connector/transport/kafkajs/client.js';

// kafkajs logs every error response at ERROR before it (or Vigil) retries; expected ones must not read as
// failures on a normal start (issue #10, item 11), while real ones stay errors.
describe('isExpectedResponseError', () => {
  it('demotes retried, expected responses', () => {
    for (const error of [
      "The coordinator is loading and hence can't process requests for this group",
      'The group coordinator is not available',
      'Topic creation errors',
      'This server does not host this topic-partition',
      'This server is not the leader for that topic-partition',
      'The group is rebalancing, so a rejoin is needed',
    ]) {
      expect(isExpectedResponseError('Response GroupCoordinator(key: 10, version: 2)', error), error).toBe(
        true,
      );
    }
  });

  it('demotes the producer retry line of an expected condition', () => {
    const concurrent =
      'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';
    expect(isExpectedResponseError(`Failed to send messages: ${concurrent}`, undefined)).toBe(true);
    expect(
      isExpectedResponseError(
        'Failed to send messages: The request included a message larger than the max message size the server will accept',
        undefined,
      ),
    ).toBe(false);
  });

  it("demotes the consumer's crash line of an expected, retried condition (Vigil logs the restart)", () => {
    expect(
      isExpectedResponseError(
        "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group",
        undefined,
      ),
    ).toBe(true);
    expect(
      isExpectedResponseError(
        'Crash: KafkaJSProtocolError: Not authorized to access group: Group authorization failed',
        undefined,
      ),
    ).toBe(false);
  });

  it('keeps real failures and lines that are not error responses', () => {
    expect(
      isExpectedResponseError(
        'Response Produce(key: 0, version: 7)',
        'The request included a message larger than the max message size the server will accept',
      ),
    ).toBe(false);
    expect(
      isExpectedResponseError(
        'Response InitProducerId(key: 22, version: 1)',
        'Not authorized to access topics: [Topic authorization failed]',
      ),
    ).toBe(false);
    expect(
      isExpectedResponseError('Crash: KafkaJSNumberOfRetriesExceeded', 'The coordinator is loading'),
    ).toBe(false);
    expect(isExpectedResponseError('Response Metadata(key: 3, version: 6)', undefined)).toBe(false);
  });
});
