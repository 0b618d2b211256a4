import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, ingest } from '../../../test/support/fixtures.js';
import { Conversation, ofType, runFrames } from '../../../test/support/l7-kit.js';
import { createSmbAnalyzer } from './analyzer.js';

type R = Record<string, unknown>;

/** An SMB2 header (64 bytes) plus body, in a NetBIOS session frame. */
function smb2(cmd: number, response: boolean, body: Buffer, status = 0): Buffer {
  const h = Buffer.alloc(64);
  h.write('\xfeSMB', 0, 'latin1');
  h.writeUInt16LE(64, 4);
  h.writeUInt32LE(status, 8);
  h.writeUInt16LE(cmd, 12);
  h.writeUInt32LE(response ? 1 : 0, 16);
  const msg = Buffer.concat([h, body]);
  const nb = Buffer.alloc(4);
  nb.writeUInt32BE(msg.length, 0);
  return Buffer.concat([nb, msg]);
}

describe('SMB2', () => {
  // Command counts as tshark reports them (oracle smb.smb2_command_counts: 5:12 6:8 8:2 9:2 11:2 14:8 15:6 16:14).
  test('golden: smb2-read-write.pcap (picked up mid-stream, compounded responses)', async () => {
    const out: R[] = [];
    await ingest(fixture('smb2-read-write.pcap'), (s) =>
      s.addHook(
        createSmbAnalyzer((r) => {
          out.push(r);
        }),
      ),
    );
    const smb = out.filter((r) => r['type'] === 'smb');
    assert.equal(smb.length, 1);
    assert.deepEqual(smb[0]!['commands'], {
      CREATE: 12,
      CLOSE: 8,
      READ: 2,
      WRITE: 2,
      IOCTL: 2,
      QUERY_DIRECTORY: 8,
      CHANGE_NOTIFY: 6,
      QUERY_INFO: 14,
    });
  });

  test('dialect from NEGOTIATE, share from TREE_CONNECT, a large WRITE skipped across segments', () => {
    const neg = Buffer.alloc(8);
    neg.writeUInt16LE(65, 0);
    neg.writeUInt16LE(0x0311, 4);
    const path = Buffer.from('\\\\srv\\data', 'utf16le');
    const tc = Buffer.alloc(8);
    tc.writeUInt16LE(9, 0);
    tc.writeUInt16LE(64 + 8, 4);
    tc.writeUInt16LE(path.length, 6);
    const c = new Conversation('tcp', 50000, 445)
      .send(0, smb2(0, false, Buffer.alloc(36)))
      .send(1, smb2(0, true, neg))
      .send(0, smb2(3, false, Buffer.concat([tc, path])))
      .send(1, smb2(3, true, Buffer.alloc(16), 0xc0000022))
      .send(0, Buffer.concat([smb2(9, false, Buffer.alloc(70000)), smb2(4, false, Buffer.alloc(4))]), 1460)
      .fin();
    const [r] = ofType(
      runFrames(c.frames, (sink) => [createSmbAnalyzer(sink)]),
      'smb',
    );
    assert.equal(r!['dialect'], '3.1.1');
    assert.deepEqual(r!['shares'], ['\\\\srv\\data']);
    assert.deepEqual(r!['commands'], { NEGOTIATE: 2, TREE_CONNECT: 2, TREE_DISCONNECT: 1, WRITE: 1 });
    assert.equal(r!['errors'], 1);
    assert.equal(r!['requests'], 4);
  });
});
