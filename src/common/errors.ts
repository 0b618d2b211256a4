/**
 * Errors that carry an HTTP status and a message that tells the caller what to fix. Any
 * stage may throw them; the API turns them into JSON error bodies.
 */
export class UserError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const badRequest = (msg: string, details: Record<string, unknown> = {}): UserError =>
  new UserError(400, msg, details);
export const notFound = (msg: string): UserError => new UserError(404, msg);

/** A configuration error names the exact key at fault. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}
