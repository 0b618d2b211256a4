import { parseArgs } from 'node:util';
import { rolesAllow, UserStore } from '../api/auth/users.js';
import { ROLES, type Role, TokenStore } from '../api/auth.js';

const HELP = `usage: vantage token <create|list|revoke> [options]

  create --role viewer|analyst|admin [--name NAME] [--user USER]
                                                     print a new token (shown once); with
                                                     --user it acts as that user
  list                                               list tokens (never their secrets)
  revoke ID                                          revoke a token

options:
  --data DIR   data directory (default ./data)
`;

export async function tokenCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`vantage token: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined) {
    process.stdout.write(HELP);
    return sub === undefined && !values.help ? 2 : 0;
  }
  const tokens = new TokenStore(values.data);
  switch (sub) {
    case 'create': {
      const role = values.role as Role;
      if (!ROLES.includes(role)) {
        process.stderr.write(
          `vantage token create: --role must be one of ${ROLES.join(', ')} (got '${values.role ?? ''}')\n`,
        );
        return 2;
      }
      let owner: string | undefined;
      if (values.user !== undefined) {
        const u = new UserStore(values.data).get(values.user);
        if (!u) {
          process.stderr.write(`vantage token create: no user named '${values.user}' in ${values.data}\n`);
          return 1;
        }
        if (!rolesAllow(u.roles, role)) {
          process.stderr.write(
            `vantage token create: ${u.name} has ${u.roles.join(', ')}; a token cannot do more than its user\n`,
          );
          return 1;
        }
        owner = u.name;
      }
      const { token, entry } = tokens.create(role, values.name ?? '', owner);
      process.stdout.write(`${token}\n`);
      process.stderr.write(`created ${entry.role} token ${entry.id}; it is shown only now\n`);
      return 0;
    }
    case 'list':
      for (const e of tokens.list())
        process.stdout.write(
          `${e.id}  ${e.role.padEnd(7)}  ${e.created}  ${(e.user ?? '-').padEnd(12)}  ${e.name}\n`,
        );
      return 0;
    case 'revoke':
      if (!rest[0] || !tokens.revoke(rest[0])) {
        process.stderr.write(`vantage token revoke: no token with id '${rest[0] ?? ''}'\n`);
        return 1;
      }
      return 0;
    default:
      process.stderr.write(`vantage token: unknown subcommand '${sub}'\n\n${HELP}`);
      return 2;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: 'string' },
      name: { type: 'string' },
      user: { type: 'string' },
      data: { type: 'string', default: './data' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
