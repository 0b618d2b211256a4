/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) in 32-bit integer arithmetic.
 * The Kafka client computes the same hash with BigInt, a dozen allocations per key; the sink
 * hashes its keys here and picks the partition as Kafka's own clients do
 * (`(murmur2(key) & 0x7fffffff) % partitions`, see partitionForKey in sinks/kafka.ts).
 */
export function murmur2(data: Uint8Array, from = 0, to = data.length): number {
  const m = 0x5bd1e995;
  const len = to - from;
  let h = 0x9747b28c ^ len;
  const end = to - (len % 4);
  for (let i = from; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = to - end;
  if (rest > 0) {
    if (rest === 3) h ^= data[end + 2]! << 16;
    if (rest >= 2) h ^= data[end + 1]! << 8;
    h ^= data[end]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
