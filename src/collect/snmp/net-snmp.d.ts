// net-snmp ships no types; the parts the poller uses.
declare module 'net-snmp' {
  interface Varbind {
    oid: string;
    type: number;
    value: unknown;
  }
  interface Session {
    subtree(
      oid: string,
      maxRepetitions: number,
      feed: (varbinds: Varbind[]) => boolean | undefined,
      done: (error: Error | null) => void,
    ): void;
    close(): void;
    on(event: 'error', cb: (e: Error) => void): void;
  }
  interface SessionOptions {
    port?: number;
    version?: number;
    timeout?: number;
    retries?: number;
  }
  interface User {
    name: string;
    level: number;
    authProtocol?: number;
    authKey?: string;
    privProtocol?: number;
    privKey?: string;
  }
  const snmp: {
    Version2c: number;
    Version1: number;
    SecurityLevel: { noAuthNoPriv: number; authNoPriv: number; authPriv: number };
    AuthProtocols: {
      md5: number;
      sha: number;
      sha224: number;
      sha256: number;
      sha384: number;
      sha512: number;
    };
    PrivProtocols: { des: number; aes: number; aes256b: number; aes256r: number };
    createSession(target: string, community: string, options?: SessionOptions): Session;
    createV3Session(target: string, user: User, options?: SessionOptions): Session;
    isVarbindError(v: Varbind): boolean;
  };
  export default snmp;
}
