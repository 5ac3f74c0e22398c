import { spawn } from 'node:child_process';
import path from 'node:path';

import { repoRoot } from '../testenv/paths.js';
import { lines } from './docker.js';

/**
 * Runs one of the project's build scripts (a path from the repository's root) and resolves with the last line it
 * prints on stdout, its result (a folder, or a JSON object of image names); its progress goes to our stderr as it
 * comes, so a cold build is visible while it runs.
 */
export function buildScriptResult(script: string, args: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(repoRoot, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(lines(out).pop() ?? '') : reject(new Error(`${script} exited with ${code}`))));
  });
}
