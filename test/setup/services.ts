// Placeholder: replaced by the real global setup (Kafka + Redis) in the foundation work.
export default async function setup(): Promise<void> {}
