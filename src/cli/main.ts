// Commands are loaded on use: `ingest` need not load the API server, DuckDB or the console.
const USAGE = `usage: vantage <command> [options]

commands:
  ingest FILE...   decode captures, meter flows, print records (NDJSON by default);
                   with --store DIR, store them instead
  capture -i IFACE live capture from an interface (libpcap; needs root or CAP_NET_RAW)
  mirror           receive mirrored traffic (VXLAN, TZSP, GRE/ERSPAN), optionally broker it
  start            run the product: store, API and console
  token            create, list or revoke API tokens
  intel            threat-intel feeds: add, list, remove, load once
  playbook         validate a response playbook, or dry-run it against an alert
  policy           learn who talks to whom, approve it, export it (nftables, Kubernetes)
  pcap             packet store: record captures, search by time, field or tcpdump filter,
                   ask whether hosts are still talking
  help             this text

Run 'vantage <command> --help' for a command's options.
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'ingest':
      return rest.some((a) => a === '--store' || a.startsWith('--store='))
        ? (await import('./ingest-store.js')).ingestStoreCommand(rest)
        : (await import('./ingest.js')).ingestCommand(rest);
    case 'start': {
      // Before anything else is loaded or opened: this may start the process again in place.
      const heap = (await import('./relaunch.js')).relaunchWithHeapFlags();
      return (await import('./start.js')).startCommand(rest, heap);
    }
    case 'pcap':
      return (await import('./pcap.js')).pcapCommand(rest);
    case 'capture':
      return (await import('./capture.js')).captureCommand(rest);
    case 'mirror':
      return (await import('./mirror.js')).mirrorCommand(rest);
    case 'policy':
      return (await import('./policy.js')).policyCommand(rest);
    case 'playbook':
      return (await import('./playbook.js')).playbookCommand(rest);
    case 'token':
      return (await import('./token.js')).tokenCommand(rest);
    case 'intel':
      return (await import('./intel.js')).intelCommand(rest);
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
