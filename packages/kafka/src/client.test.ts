import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLogLevel } from './client.ts';

describe('kafkaLogLevel', () => {
  it('makes the error responses kafkajs retries by itself warnings', () => {
    for (const error of [
      "The coordinator is loading and hence can't process requests for this group",
      'The group coordinator is not available',
      'This server is not the leader for that topic-partition',
    ])
      expect(
        kafkaLogLevel(logLevel.ERROR, { message: 'Response InitProducerId(key: 22, version: 1)', error }),
      ).toBe('warn');
  });

  it('keeps the other errors errors', () => {
    expect(
      kafkaLogLevel(logLevel.ERROR, {
        message: 'Response Produce(key: 0, version: 7)',
        error: 'The request included a message larger than the max message size the server will accept',
      }),
    ).toBe('error');
    expect(
      kafkaLogLevel(logLevel.ERROR, { message: 'Crash: KafkaJSNumberOfRetriesExceeded', error: 'x' }),
    ).toBe('error');
    expect(kafkaLogLevel(logLevel.WARN, { message: 'Response Metadata', error: 'whatever' })).toBe('warn');
  });

  it('drops the idempotent producer retry notice', () => {
    expect(
      kafkaLogLevel(logLevel.WARN, { message: 'Limiting retries for the idempotent producer to 8' }),
    ).toBeNull();
  });
});
