import java.io.*;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.*;

/**
 * Kafka's own record code as the oracle of test/bus/kafka-batch.test.ts, run with the broker's
 * jars (java -cp 'libs/*' KafkaBatchOracle.java CMD IN OUT):
 *   encode: IN holds "producerId epoch baseSequence timestamp compression" then one record a
 *           line "keyHex valueHex headerKeyHex headerValueHex"; OUT gets the batch Kafka's
 *           MemoryRecordsBuilder writes for them.
 *   decode: IN holds record batches back to back; OUT gets, per batch, a line
 *           "B baseOffset lastOffset count producerId epoch baseSequence compression
 *            timestamp maxTimestamp partitionLeaderEpoch magic transactional" after Kafka
 *           checked its CRC, then per record "R offset timestamp sequence keyHex valueHex
 *           headerKeyHex headerValueHex".
 *   partition: IN holds "partitions" then one key a line in hex; OUT gets the partition
 *           Kafka's default partitioner picks for each.
 */
public class KafkaBatchOracle {
  static String hex(ByteBuffer b) {
    if (b == null) return "-";
    StringBuilder s = new StringBuilder();
    ByteBuffer d = b.duplicate();
    while (d.hasRemaining()) s.append(String.format("%02x", d.get()));
    return s.length() == 0 ? "." : s.toString();
  }

  static String hex(byte[] b) {
    return hex(b == null ? null : ByteBuffer.wrap(b));
  }

  static byte[] unhex(String s) {
    if (s.equals(".")) return new byte[0];
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    return out;
  }

  static Compression compression(String name) {
    switch (name) {
      case "none": return Compression.NONE;
      case "gzip": return Compression.gzip().build();
      case "snappy": return Compression.snappy().build();
      case "lz4": return Compression.lz4().build();
      default: throw new IllegalArgumentException(name);
    }
  }

  public static void main(String[] args) throws Exception {
    List<String> in = args[0].equals("decode") ? List.of() : Files.readAllLines(Path.of(args[1]));
    try (PrintStream out = new PrintStream(new FileOutputStream(args[2]), false, StandardCharsets.UTF_8)) {
      switch (args[0]) {
        case "encode": {
          String[] h = in.get(0).split(" ");
          ByteBuffer buf = ByteBuffer.allocate(64 << 20);
          long ts = Long.parseLong(h[3]);
          MemoryRecordsBuilder b = MemoryRecords.builder(buf, RecordBatch.MAGIC_VALUE_V2, compression(h[4]),
              TimestampType.CREATE_TIME, 0L, RecordBatch.NO_TIMESTAMP, Long.parseLong(h[0]),
              Short.parseShort(h[1]), Integer.parseInt(h[2]), false, RecordBatch.NO_PARTITION_LEADER_EPOCH);
          for (String line : in.subList(1, in.size())) {
            String[] f = line.split(" ");
            b.append(ts, unhex(f[0]), unhex(f[1]), new Header[] {new RecordHeader(new String(unhex(f[2]), StandardCharsets.UTF_8), unhex(f[3]))});
          }
          ByteBuffer done = b.build().buffer();
          byte[] bytes = new byte[done.remaining()];
          done.get(bytes);
          Files.write(Path.of(args[2]), bytes);
          break;
        }
        case "decode": {
          MemoryRecords recs = MemoryRecords.readableRecords(ByteBuffer.wrap(Files.readAllBytes(Path.of(args[1]))));
          for (RecordBatch batch : recs.batches()) {
            batch.ensureValid();
            out.printf("B %d %d %d %d %d %d %s %d %d %d %d %b%n", batch.baseOffset(), batch.lastOffset(),
                batch.countOrNull(), batch.producerId(), batch.producerEpoch(), batch.baseSequence(),
                batch.compressionType().name, ((DefaultRecordBatch) batch).baseTimestamp(), batch.maxTimestamp(),
                batch.partitionLeaderEpoch(), batch.magic(), batch.isTransactional());
            for (org.apache.kafka.common.record.Record r : batch) {
              r.ensureValid();
              Header[] hs = r.headers();
              out.printf("R %d %d %d %s %s %s %s%n", r.offset(), r.timestamp(), r.sequence(), hex(r.key()), hex(r.value()),
                  hs.length == 1 ? hex(hs[0].key().getBytes(StandardCharsets.UTF_8)) : "headers:" + hs.length,
                  hs.length == 1 ? hex(hs[0].value()) : "-");
            }
          }
          break;
        }
        case "partition": {
          int n = Integer.parseInt(in.get(0));
          for (String line : in.subList(1, in.size())) out.println(BuiltInPartitioner.partitionForKey(unhex(line), n));
          break;
        }
        default:
          throw new IllegalArgumentException(args[0]);
      }
    }
  }
}
