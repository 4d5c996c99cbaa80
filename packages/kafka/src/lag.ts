import type { Admin } from 'kafkajs';
import type { PipelineGroup } from './topics.ts';

/** How far one consumer group is behind on one partition. */
export interface PartitionLag {
  partition: number;
  /** the group's committed offset (the next record it will read); null when it committed none */
  committed: number | null;
  /** the partition's end (high watermark): the offset the next record published will get */
  end: number;
  /** records published and not yet done by the group */
  lag: number;
}

export interface GroupLag extends PipelineGroup {
  /** the group coordinator's word: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead */
  state: string;
  members: number;
  partitions: PartitionLag[];
  /** the sum over its partitions */
  lag: number;
}

/**
 * Records behind on a partition. A group with no committed offset (or one the retention has passed)
 * starts from the oldest record still there (the services subscribe from the beginning), so all of
 * them are ahead of it.
 */
export function partitionLag(committed: number | null, low: number, end: number): number {
  return Math.max(0, end - Math.max(committed ?? low, low));
}

/** A group's lag on its topic: its committed offsets against the topic's end offsets, read with the
 * admin client (nothing joins the group, nothing is committed). */
export async function consumerLag(admin: Admin, group: PipelineGroup): Promise<GroupLag> {
  const [ends, committed, described] = await Promise.all([
    admin.fetchTopicOffsets(group.topic),
    admin.fetchOffsets({ groupId: group.groupId, topics: [group.topic] }),
    admin.describeGroups([group.groupId]),
  ]);
  const byPartition = new Map(
    (committed.find((t) => t.topic === group.topic)?.partitions ?? []).map((p) => [p.partition, p.offset]),
  );
  const partitions = ends
    .map((p): PartitionLag => {
      const offset = Number(byPartition.get(p.partition) ?? -1);
      const c = offset >= 0 ? offset : null;
      const end = Number(p.high);
      return { partition: p.partition, committed: c, end, lag: partitionLag(c, Number(p.low), end) };
    })
    .sort((a, b) => a.partition - b.partition);
  const info = described.groups[0];
  return {
    ...group,
    state: info?.state ?? 'Unknown',
    members: info?.members.length ?? 0,
    partitions,
    lag: partitions.reduce((sum, p) => sum + p.lag, 0),
  };
}
