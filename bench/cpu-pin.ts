import { execFileSync } from 'node:child_process';

/**
 * CPU affinity for the load phase: the operator gets a CPU of its own, as a Deployment's CPU request gives it
 * in production, and everything else of the test ground (API server, etcd, Flux, the git server, the load
 * client) shares the others. Without it, on 2 cores, the answer time measures the scheduler's choice between
 * the operator and the load it is sent. Done with taskset(1) on every thread (-a); threads started later
 * inherit the affinity of the thread that starts them.
 */
export interface CpuPlan {
  /** CPU list for the operator (taskset -c syntax), e.g. "1". */
  operator: string;
  /** CPU list for every other process, e.g. "0". */
  others: string;
}

/** The last CPU for the operator, the rest for the others; undefined on one CPU (nothing to separate). */
export function cpuPlan(cpus: readonly number[]): CpuPlan | undefined {
  if (cpus.length < 2) return undefined;
  const sorted = [...cpus].sort((a, b) => a - b);
  return { operator: String(sorted.at(-1)), others: cpuList(sorted.slice(0, -1)) };
}

/** taskset's list syntax: runs of consecutive CPUs as ranges ("0-2,5"). */
export function cpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The CPUs of a taskset list ("0-2,5" → [0, 1, 2, 5]). */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) cpus.push(c);
  }
  return cpus;
}

/** The CPU list a process may run on (`taskset -p -c`). */
export function affinityOf(pid: number): string {
  const out = execFileSync('taskset', ['-p', '-c', String(pid)], { encoding: 'utf8' });
  const m = /list:\s*(\S+)\s*$/.exec(out);
  if (!m) throw new Error(`taskset printed no CPU list for pid ${pid}: ${out.trim()}`);
  return m[1]!;
}

/** Sets the CPU list of every thread of `pid`. */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * Pins `operator` to the plan's operator CPU and `others` to the rest; returns the plan and a function that
 * gives the others (this process among them) their CPUs back; `skipped` with the reason when it cannot be done.
 */
export function pinForLoad(operator: number, others: readonly number[]): { plan: CpuPlan; restore: () => void } | { skipped: string } {
  let original: string;
  try {
    original = affinityOf(process.pid);
  } catch (err) {
    return { skipped: `taskset not usable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
  const plan = cpuPlan(parseCpuList(original));
  if (!plan) return { skipped: `this process may use one CPU only (${original})` };
  const restore = () => {
    for (const pid of others) {
      try {
        pin(pid, original);
      } catch {
        // exited meanwhile
      }
    }
  };
  try {
    pin(operator, plan.operator);
    for (const pid of others) pin(pid, plan.others);
  } catch (err) {
    restore();
    return { skipped: `taskset failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
  return { plan, restore };
}
