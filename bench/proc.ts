import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * A process's memory and CPU from /proc: peak resident set (VmHWM, what "peak RSS" means here) and CPU
 * seconds (utime + stime of /proc/<pid>/stat, in clock ticks).
 */
export interface ProcStats {
  /** Peak resident set size in bytes (VmHWM). */
  peakRssBytes: number;
  rssBytes: number;
  /** User + system CPU time in seconds. */
  cpuSeconds: number;
}

/** VmHWM and VmRSS of a /proc/<pid>/status text, in bytes. */
export function parseStatus(text: string): { peakRssBytes: number; rssBytes: number } {
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    if (!m) throw new Error(`no ${field} in /proc status`);
    return Number(m[1]) * 1024;
  };
  return { peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS') };
}

/** utime + stime (clock ticks) of a /proc/<pid>/stat line. The command name may hold spaces and parentheses. */
export function parseStatTicks(text: string): number {
  const rest = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  // After "pid (comm) ", field 3 (state) is rest[0]; utime and stime are fields 14 and 15.
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unreadable /proc stat line');
  return utime + stime;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks after boot. */
export function parseStartTicks(text: string): number {
  const rest = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  const v = Number(rest[22 - 3]);
  if (!Number.isFinite(v)) throw new Error('unreadable /proc stat line');
  return v;
}

/** When a process started (ms since the epoch, 10 ms resolution): boot time + its start ticks. */
export function processStartedAtMs(pid: number): number {
  const btime = Number(/^btime\s+(\d+)/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
  return btime * 1000 + (parseStartTicks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks()) * 1000;
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // Linux's USER_HZ everywhere it runs
    }
  }
  return ticksPerSecond;
}

export function readProcStats(pid: number): ProcStats {
  const status = parseStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  const ticks = parseStatTicks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return { ...status, cpuSeconds: ticks / clockTicks() };
}

/** Busy and total CPU time of the whole machine (first line of /proc/stat), in clock ticks. */
export function parseMachineTicks(procStat: string): { busy: number; total: number } {
  const fields = procStat.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuSnapshot {
  perProcess: Record<string, number>;
  machineBusyTicks: number;
  machineTotalTicks: number;
}

/** CPU seconds so far of each named process (gone ones are left out) and the machine's ticks. */
export function cpuSnapshot(pids: Record<string, number>): CpuSnapshot {
  const perProcess: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      perProcess[name] = readProcStats(pid).cpuSeconds;
    } catch {
      // exited
    }
  }
  const m = parseMachineTicks(fs.readFileSync('/proc/stat', 'utf8'));
  return { perProcess, machineBusyTicks: m.busy, machineTotalTicks: m.total };
}

/** CPU seconds each process used between two snapshots, and how busy the machine was (0..1). */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): { perProcess: Record<string, number>; machineBusy: number } {
  const perProcess: Record<string, number> = {};
  for (const [name, v] of Object.entries(b.perProcess))
    if (name in a.perProcess) perProcess[name] = Math.round((v - a.perProcess[name]!) * 100) / 100;
  const total = b.machineTotalTicks - a.machineTotalTicks;
  return { perProcess, machineBusy: total > 0 ? (b.machineBusyTicks - a.machineBusyTicks) / total : NaN };
}
