import { ingestCommand } from './ingest.js';

const USAGE = `usage: vantage <command> [options]

commands:
  ingest FILE...   decode captures, meter flows, print records (NDJSON by default)
  start            run the product: store, API and console
  help             this text

Run 'vantage <command> --help' for a command's options.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'ingest':
      return ingestCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`vantage: unknown command '${cmd}'\n\n${USAGE}`);
      return 2;
  }
}
