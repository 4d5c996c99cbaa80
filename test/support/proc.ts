import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second in /proc (USER_HZ on Linux). */
export const TICKS_PER_SECOND = 100;

export interface ProcStat {
  /** the command name */
  comm: string;
  /** R, S, D, Z (exited, not yet reaped), ... */
  state: string;
  ppid: number;
  /** user + system CPU time so far */
  cpuSeconds: number;
}

/** One process's line of /proc/<pid>/stat (Linux). Throws when there is no such process. */
export function readProcStat(pid: number | string): ProcStat {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may hold spaces or parentheses itself.
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    comm,
    state: after[0]!,
    ppid: Number(after[1]),
    cpuSeconds: (Number(after[11]) + Number(after[12])) / TICKS_PER_SECOND,
  };
}

/** Alive and not a zombie (a process that exited and was not reaped yet counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    return readProcStat(pid).state !== 'Z';
  } catch {
    return false;
  }
}

/** The processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readProcStat(entry).ppid === pid) out.push(Number(entry));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}
