import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A kubectl bound to one kubeconfig; `input` goes to stdin (for `-f -`). Resolves with stdout. */
export function kubectlFor(bin: string, kubeconfig: string): (args: string[], input?: string) => Promise<string> {
  return async (args, input) => {
    const child = run(bin, [`--kubeconfig=${kubeconfig}`, ...args], { maxBuffer: 64 * 1024 * 1024 });
    if (input !== undefined) child.child.stdin?.end(input);
    return (await child).stdout;
  };
}
