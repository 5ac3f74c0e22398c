// Running git children safely for the test ground: argument arrays only (never a shell), a clean
// environment (no user/system config, no prompts, no stray GIT_DIR from a surrounding hook), and a hard
// 60 s bound so a wedged git can never hang a test run.
import { execFile, type ChildProcess } from 'node:child_process';

export const GIT_TIMEOUT_MS = 60_000;
export const ZERO_SHA = '0'.repeat(40);

/** The committer/author of every commit the test ground makes; fixed so that runs are comparable. */
export const TEST_IDENTITY = { name: 'Test Ground', email: 'test-ground@example.invalid' };

/**
 * Environment for a git child. Built from scratch rather than from process.env, so that a developer's
 * ~/.gitconfig (signing, url rewrites, credential helpers) or a GIT_DIR set by an outer hook cannot leak in.
 */
export function gitEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: TEST_IDENTITY.name,
    GIT_AUTHOR_EMAIL: TEST_IDENTITY.email,
    GIT_COMMITTER_NAME: TEST_IDENTITY.name,
    GIT_COMMITTER_EMAIL: TEST_IDENTITY.email,
    ...extra,
  };
}

export interface GitOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin (stdin is always closed, so git never waits on it). */
  input?: string;
  /** Children are added here while they run, so that a server's stop() can kill them. */
  track?: Set<ChildProcess>;
}

/** Runs `git <args>` and resolves with stdout; rejects with git's stderr on a non-zero exit or timeout. */
export function git(args: string[], opts: GitOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      { cwd: opts.cwd, env: opts.env, timeout: GIT_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        opts.track?.delete(child);
        if (err) reject(new Error(`git ${args[0]} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
    opts.track?.add(child);
    child.stdin?.on('error', () => {}); // git may exit before reading stdin (EPIPE); the exit code tells.
    child.stdin?.end(opts.input ?? '');
  });
}

/** Runs fn after every earlier call with the same key has settled (a per-key promise chain). */
export function withLock<T>(locks: Map<string, Promise<void>>, key: string, fn: () => Promise<T>): Promise<T> {
  const run = (locks.get(key) ?? Promise.resolve()).then(fn);
  const tail = run.then(
    () => {},
    () => {},
  );
  locks.set(key, tail);
  void tail.then(() => {
    if (locks.get(key) === tail) locks.delete(key);
  });
  return run;
}
