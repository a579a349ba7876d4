import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';

/** The topics and consumer group of one benchmark run, named so that no other run uses them. */
export interface BenchTopics {
  /** Where the generator produces and the engine consumes. */
  readonly source: string;
  /** Where the engine's Kafka sink produces kept traces; records carry the broker's append time. */
  readonly sink: string;
  /** The engine's consumer group. */
  readonly groupId: string;
}

/** A record read back from a topic. */
export interface ReadRecord {
  readonly key: string | null;
  readonly value: Buffer;
  /** The record's timestamp, Unix ms: with LogAppendTime, when the broker appended it. */
  readonly timestampMs: number;
}

function client(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
}

async function withAdmin<T>(brokers: readonly string[], use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = client(brokers, 'tailsift-bench-admin').admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates a run's topics: the source with `partitions` partitions, the sink with as many and
 * `message.timestamp.type=LogAppendTime`, so a kept trace's record says when the sink's
 * write reached the broker (the same machine's clock as the engine's due times).
 */
export async function createBenchTopics(brokers: readonly string[], tag: string, partitions: number): Promise<BenchTopics> {
  const id = randomBytes(5).toString('hex');
  const topics: BenchTopics = { source: `${tag}-${id}`, sink: `${tag}-kept-${id}`, groupId: `${tag}-${id}` };
  await withAdmin(brokers, async (admin) => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.source, numPartitions: partitions, replicationFactor: 1 },
        {
          topic: topics.sink,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
        },
      ],
    });
    if (!created) throw new Error(`topics ${topics.source} / ${topics.sink} already exist`);
  });
  return topics;
}

/** Deletes a run's topics and consumer groups; what is already gone is no error. */
export async function deleteBenchTopics(brokers: readonly string[], topics: BenchTopics, extraGroups: readonly string[] = []): Promise<void> {
  await withAdmin(brokers, async (admin) => {
    await admin.deleteGroups([topics.groupId, ...extraGroups]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topics.source, topics.sink] }).catch(() => undefined);
  });
}

/**
 * Reads every record a topic holds now, from the start, handing each to `visit` in partition
 * order, as consumer group `groupId` (the caller deletes it). Resolves with the number of
 * records; rejects when they are not all read within `timeoutMs`.
 */
export async function readWholeTopic(
  brokers: readonly string[],
  topic: string,
  groupId: string,
  visit: (record: ReadRecord) => void,
  timeoutMs: number,
): Promise<number> {
  const ends = await withAdmin(brokers, (admin) => admin.fetchTopicOffsets(topic));
  // The offset after the last record, per partition; partitions with none are done already.
  const remaining = new Map<number, bigint>();
  for (const p of ends) if (BigInt(p.high) > BigInt(p.low)) remaining.set(p.partition, BigInt(p.high));
  if (remaining.size === 0) return 0;

  const consumer = client(brokers, 'tailsift-bench-reader').consumer({ groupId, allowAutoTopicCreation: false, maxBytesPerPartition: 8 * 1024 * 1024 });
  let records = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${topic}: not every record was read within ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = remaining.get(batch.partition);
            if (end === undefined) return;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= end || m.value === null) continue;
              visit({ key: m.key?.toString() ?? null, value: m.value, timestampMs: Number(m.timestamp) });
              records++;
            }
            const last = batch.messages[batch.messages.length - 1];
            if (last !== undefined && BigInt(last.offset) + 1n >= end) remaining.delete(batch.partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
