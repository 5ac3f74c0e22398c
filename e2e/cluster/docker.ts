import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The Docker CLI that matches the engine: Debian's client (20.10) at /usr/bin/docker. A newer client earlier on
 * PATH works for these commands too, but builds need the engine's own builder (docs/adr/0019).
 */
export const DOCKER = process.env.DOCKER ?? '/usr/bin/docker';

/** One docker command; resolves with stdout, rejects with its stderr in the message. */
export async function docker(args: string[], timeoutMs = 300_000): Promise<string> {
  try {
    return (await run(DOCKER, args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

export const lines = (out: string): string[] => out.split('\n').filter((l) => l.trim() !== '');
