import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file is e2e/testenv/paths.ts, compiled to dist/e2e/testenv/paths.js. */
const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..');

/** Where a run keeps component logs: E2E_LOG_DIR, or e2e/logs/<timestamp> (git-ignored). */
export function defaultLogDir(): string {
  return process.env.E2E_LOG_DIR ?? path.join(repoRoot, 'e2e', 'logs', new Date().toISOString().replace(/[:.]/g, '-'));
}
