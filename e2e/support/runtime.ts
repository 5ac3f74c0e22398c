import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../testenv/paths.js';

/** The Node.js versions hack/node-versions pins, by role (`runtime`, `unit-22`, `unit-26`). */
export function pinnedNodeVersions(
  text = fs.readFileSync(path.join(repoRoot, 'hack/node-versions'), 'utf8'),
): Map<string, { version: string; integrity: string }> {
  const pins = new Map<string, { version: string; integrity: string }>();
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const [role, version, integrity, ...rest] = line.trim().split(/\s+/);
    if (!/^\d+\.\d+\.\d+$/.test(version ?? '') || !/^sha512-[A-Za-z0-9+/]+={0,2}$/.test(integrity ?? '') || rest.length > 0) {
      throw new Error(`hack/node-versions: expected "<role> <x.y.z> sha512-…", got ${JSON.stringify(line)}`);
    }
    pins.set(role, { version, integrity });
  }
  return pins;
}

/** The exact Node.js version every part of the project runs on. */
export function runtimeNodeVersion(): string {
  const pin = pinnedNodeVersions().get('runtime');
  if (!pin) throw new Error('hack/node-versions has no "runtime" line');
  return pin.version;
}
