'use strict';
// Build the binding from source. Never fails the install: Vantage runs without live capture,
// and `vantage capture` tells the user what to install when the binding is missing.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const HINT =
  'vantage-pcap: live capture and raw-socket mirror receivers are disabled, and QUIC Initials are opened with ' +
  "Node's slower cipher objects. To enable them, " +
  'install the Debian package libpcap-dev and a C compiler (apt-get install libpcap-dev g++ make python3), ' +
  'then run: npm rebuild vantage-pcap\n';

function note(why) {
  process.stderr.write(`vantage-pcap: not built (${why}).\n${HINT}`);
  process.exit(0);
}

if (process.platform !== 'linux') note(`platform ${process.platform} is not supported yet`);
const headers = ['/usr/include/pcap.h', '/usr/include/pcap/pcap.h', '/usr/local/include/pcap.h'];
if (!headers.some((h) => existsSync(h))) note('libpcap headers (pcap.h) not found');

let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  const npmDir = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  gyp = path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}
if (!existsSync(gyp)) note('node-gyp not found');
// Build against the headers of the running Node; never let node-gyp download them.
const prefix = path.join(path.dirname(process.execPath), '..');
const nodedir = [process.env.npm_config_nodedir, prefix].find(
  (d) => d && existsSync(path.join(d, 'include', 'node', 'node_api.h')),
);
if (!nodedir) note(`Node headers not found under ${prefix}/include/node (set npm_config_nodedir)`);
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: __dirname,
  stdio: 'inherit',
});
if (r.status !== 0) note(`compilation failed with status ${r.status}`);
