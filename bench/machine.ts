import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { repoRoot } from '../e2e/testenv/paths.js';
import type { Machine } from './results.js';

/** The machine a run was made on, for the report's header. */
export function describeMachine(now = new Date()): Machine {
  const run = (cmd: string, args: string[], cwd?: string) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  const commit = run('git', ['rev-parse', '--short=12', 'HEAD'], repoRoot);
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no'], repoRoot);
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    go: run('go', ['version']).replace(/^go version /, ''),
    kernel: `${os.type()} ${os.release()}`,
    commit: dirty && dirty !== 'unknown' ? `${commit} (with uncommitted changes)` : commit,
    date: now.toISOString(),
  };
}
