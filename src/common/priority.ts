/**
 * Thread priorities: the thread that answers the API keeps the default priority, and the bulk
 * threads (the collector's decode thread, load generators standing in for remote machines)
 * run at a higher nice value, so that when every core is busy the dashboard is answered first
 * and the bulk work takes what is left. Linux keeps a nice value per thread
 * (setpriority(PRIO_PROCESS, tid) acts on one thread); `os.setPriority` passes the id through.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The calling thread's kernel id (its entry under /proc/self/task), 0 where /proc is not there. */
export function threadId(): number {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    const link = readlinkSync('/proc/thread-self');
    const tid = Number.parseInt(link.slice(link.lastIndexOf('/') + 1), 10);
    return Number.isFinite(tid) ? tid : 0;
  } catch {
    return 0;
  }
}

/**
 * Set the nice value of one thread (the calling one by default). Raising a thread's priority
 * (a lower value than it has) needs root or CAP_SYS_NICE; lowering it never does. Returns
 * whether the value was set: a thread that cannot be niced runs on at its priority.
 */
export function niceThread(nice: number, tid = threadId()): boolean {
  if (tid <= 0 || !Number.isInteger(nice) || nice < -20 || nice > 19) return false;
  try {
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}

/** A thread's nice value as the kernel reports it (field 19 of /proc/PID/task/TID/stat), or null. */
export function threadNice(tid: number, pid = process.pid): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(f[16]);
    return Number.isInteger(v) ? v : null;
  } catch {
    return null;
  }
}
