import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths.js';

export const BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kubectl',
  'source-controller',
  'notification-controller',
  'kustomize-controller',
] as const;
export type Binary = (typeof BINARIES)[number];

export interface Binaries {
  dir: string;
  path(name: Binary): string;
  /** Folder with the Flux CRDs taken from the controller modules that built the binaries. */
  fluxCrds: string;
}

/**
 * Finds the binaries `make testenv` built (e2e/testenv/build.sh decides the version-keyed folder). Building
 * takes tens of minutes on a cold machine, so a missing binary is an error that says what to run rather than
 * a build started in the middle of a test run.
 */
export function findBinaries(): Binaries {
  const script = path.join(repoRoot, 'e2e/testenv/build.sh');
  const dir = execFileSync('bash', [script, '--print'], { encoding: 'utf8' }).trim();
  const missing = BINARIES.filter((b) => !fs.existsSync(path.join(dir, b)));
  if (missing.length > 0) {
    throw new Error(
      `test ground binaries missing in ${dir}: ${missing.join(', ')}. Run \`make testenv\` (builds them from Go modules; 20-40 min the first time).`,
    );
  }
  return { dir, path: (name) => path.join(dir, name), fluxCrds: path.join(dir, 'crds') };
}
