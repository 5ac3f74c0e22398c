import fs from 'node:fs';
import path from 'node:path';
import { type CpuProfile, type ProfileSummary, summarizeProfile } from './cpuprofile.js';
import { sourceResolver } from './sourcemap.js';

/** Running the operator under `node --cpu-prof`, and reading back the profile for a window of the run. */
export interface ProfileRequest {
  dir: string;
  name: string;
}

export interface ProfileResult {
  file: string;
  /** What the window covers, for the report. */
  windowLabel: string;
  window: ProfileSummary;
  whole: ProfileSummary;
}

export function profileNodeArgs(p: ProfileRequest | undefined): string[] {
  return p ? ['--cpu-prof', `--cpu-prof-dir=${p.dir}`, `--cpu-prof-name=${p.name}`] : [];
}

/** Microseconds of the monotonic clock V8 stamps profiles with (process.hrtime's clock on Linux). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Reads the profile the operator wrote when it exited; the window is [fromUs, toUs] on monotonicUs(). */
export function readProfile(p: ProfileRequest, windowLabel: string, fromUs: number, toUs: number): ProfileResult {
  const file = path.join(p.dir, p.name);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const resolve = sourceResolver();
  return { file, windowLabel, window: summarizeProfile(profile, { fromUs, toUs, resolve }), whole: summarizeProfile(profile, { resolve }) };
}
