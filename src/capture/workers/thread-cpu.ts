import { readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system) the calling thread has used, from /proc/thread-self/stat
 * (Node 20 has no per-thread CPU clock; `process.cpuUsage` counts every thread). NaN where
 * /proc is not there.
 */
export function threadCpuSeconds(): number {
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'latin1');
  } catch {
    return Number.NaN;
  }
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the name and state).
  return (Number(f[11]) + Number(f[12])) / 100;
}
