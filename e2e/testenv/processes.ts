import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Child processes of the test ground. Each writes its output to `<logDir>/<name>.log`; every one started is
 * registered so teardown, a failing test, Ctrl-C or a plain `process.exit` all stop it. The pids are also
 * written to `<runDir>/pids` so `make testenv-down` (or the next run) can reap processes of a run whose Node
 * process was killed with SIGKILL and had no chance to clean up.
 */
export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stop(timeoutMs?: number): Promise<void>;
}

const running = new Set<ManagedProcess>();

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  pidFile?: string;
}

export function startProcess(opts: StartOptions): ManagedProcess {
  fs.mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${opts.name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`${opts.name}: could not start ${opts.command}`);
  const pid = child.pid;
  if (opts.pidFile) fs.appendFileSync(opts.pidFile, `${pid} ${opts.name}\n`);

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)));
    child.once('error', () => resolve(-1));
  });
  const proc: ManagedProcess = {
    name: opts.name,
    pid,
    logFile,
    child,
    exited,
    async stop(timeoutMs = 10_000) {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** The processes started here that have not exited yet. */
export function runningProcesses(): ManagedProcess[] {
  return [...running];
}

/** Last `lines` lines of a log file, for failure reports. */
export function tail(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

/** Kills the pids recorded in a pid file (left by a run that died) that are still alive. */
export function reapPidFile(pidFile: string): number {
  if (!fs.existsSync(pidFile)) return 0;
  let killed = 0;
  for (const line of fs.readFileSync(pidFile, 'utf8').split('\n')) {
    const pid = Number(line.split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // already gone
    }
  }
  fs.rmSync(pidFile, { force: true });
  return killed;
}

const exitCleanups: Array<() => void> = [];

/** Registers synchronous clean-up (removing temp folders) that also runs when Node exits abruptly. */
export function onExitSync(fn: () => void): void {
  exitCleanups.push(fn);
}

// Last resort: a synchronous kill of everything still running when Node exits for any reason
// (a test calling process.exit, an uncaught exception, mocha's own exit).
process.once('exit', () => {
  for (const proc of running) {
    try {
      proc.child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  for (const fn of exitCleanups) {
    try {
      fn();
    } catch {
      // best effort at exit
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => process.exit(130));
}
