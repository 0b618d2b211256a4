import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProduct } from '../../src/cli/start.js';
import { silentLogger } from '../../src/common/log.js';
import { parseResponderConfig } from '../../src/respond/config.js';
import { scanAlert } from './support.js';

/**
 * The product in a child process, for the kill -9 test: argv DATA_DIR PORT RESPOND_JSON ALERT_JSON.
 * It raises the alert once started (a detector re-emitting its episode after a restart), then
 * prints `ready URL ADMIN_TOKEN` on stderr and runs until killed.
 */
const [dir, port, respond, alert] = process.argv.slice(2) as [string, string, string, string];
const product = await startProduct({
  dataDir: dir,
  host: '127.0.0.1',
  port: Number(port),
  samples: false,
  packets: false,
  log: silentLogger,
  respond: parseResponderConfig(JSON.parse(respond)),
  print: () => {},
});
product.alertHub.emit(scanAlert(JSON.parse(alert) as Record<string, unknown>));
await product.alertHub.flush();
process.stderr.write(`ready ${product.url} ${readFileSync(join(dir, 'admin-token'), 'utf8').trim()}\n`);
