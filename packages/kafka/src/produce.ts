import type { IHeaders, Kafka, Message, Producer } from 'kafkajs';

/** The services' producer: every send waits for all in-sync replicas (`acks: -1` at each send) and a
 * failed one is retried, so a record may reach the topic twice but is never dropped. Deliberately not
 * kafkajs's idempotent producer (ADR 0024): after a produce request failed for some of its partitions
 * (a leader moving while a broker restarts) it takes back the sequence numbers of every partition of
 * the request, including those the broker had written, and gives them to the next records sent there;
 * the broker takes those for a retry of what it has and acknowledges them without writing them. What
 * the pipeline sends is safe to receive twice: alerts carry their id, counter changes are totals
 * (the evaluator keeps the highest), flags and DLQ records are keyed. `ordered`: one request in flight,
 * so a retry cannot overtake the next send (alerts leave in decision order, flags in change order). */
export function createPipelineProducer(kafka: Kafka, opts: { ordered: boolean }): Producer {
  return kafka.producer({ idempotent: false, maxInFlightRequests: opts.ordered ? 1 : 5 });
}

/** How much one produce request carries at most (`sendAll`). */
export interface SendLimits {
  messages: number;
  /** keys, values and headers, summed */
  bytes: number;
}

/** A broker refuses a record batch above the topic's `max.message.bytes` (1 MB by default), and kafkajs
 * puts all of a request's messages for one partition into one batch; it also sorts a request's messages
 * into partitions in time that grows with the square of their number (ADRs 0009 and 0012). These limits
 * keep every request well inside both. */
export const defaultSendLimits: SendLimits = { messages: 1_000, bytes: 256 * 1024 };

/** Sends messages of any number and size to one topic: in requests of at most `limits`, one after
 * another, in order (a message larger than the byte limit goes alone). A batch's DLQ records or counter
 * changes can be a whole fetch's worth (hundreds of thousands of records); sent in one request they
 * would stall the process and then be refused, and the batch would be retried forever. */
export async function sendAll(
  producer: Producer,
  topic: string,
  messages: Message[],
  limits: SendLimits = defaultSendLimits,
): Promise<void> {
  for (const chunk of chunkMessages(messages, limits))
    await producer.send({ topic, messages: chunk, acks: -1 });
}

/** The messages in order, cut into runs of at most `limits` (a message above the byte limit alone). */
export function chunkMessages(messages: Message[], limits: SendLimits = defaultSendLimits): Message[][] {
  const chunks: Message[][] = [];
  let from = 0;
  while (from < messages.length) {
    let to = from;
    let bytes = 0;
    while (to < messages.length && to - from < limits.messages) {
      const size = messageBytes(messages[to]!);
      if (to > from && bytes + size > limits.bytes) break;
      bytes += size;
      to++;
    }
    chunks.push(messages.slice(from, to));
    from = to;
  }
  return chunks;
}

/** What a message brings to a record batch, near enough: its key, value and headers, and a few bytes
 * of framing. */
export function messageBytes(m: Message): number {
  return 16 + sizeOf(m.key) + sizeOf(m.value) + headerBytes(m.headers);
}

function headerBytes(headers: IHeaders | undefined): number {
  if (!headers) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(headers)) {
    n += 4 + Buffer.byteLength(k);
    if (Array.isArray(v)) for (const x of v) n += 4 + sizeOf(x);
    else n += sizeOf(v);
  }
  return n;
}

function sizeOf(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
