import type { Admin, Kafka } from "kafkajs";

/** A consumer group's committed offsets, read through an admin connection opened on first use. */
export class CommittedOffsets {
  private admin?: Promise<Admin>;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
  ) {}

  /** The offset the group resumes `partition` of `topic` from; undefined when it committed none. */
  async of(topic: string, partition: number): Promise<string | undefined> {
    const admin = await this.connected();
    const [answer] = await admin.fetchOffsets({ groupId: this.groupId, topics: [topic] });
    const offset = answer?.partitions.find((p) => p.partition === partition)?.offset;
    return offset === undefined || BigInt(offset) < 0n ? undefined : offset;
  }

  private connected(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => {
        this.admin = undefined;
      });
    }
    return this.admin;
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await admin.then((a) => a.disconnect()).catch(() => {});
  }
}
