import { FULL, QUICK, type BenchConfig } from './config.js';

/**
 * Command line: `node dist/bench/run.js [--quick] [--only push,load,scale] [--out <dir>] [--set key=value ...]`.
 * `--set` changes one size for development, e.g. `--set push.pushes=3 --set scale.sizes=300x30`.
 */
export const PHASES = ['push', 'load', 'scale'] as const;
export type Phase = (typeof PHASES)[number];

export interface Args {
  quick: boolean;
  only: Phase[];
  out?: string;
  config: BenchConfig;
  /** Run the operator under `node --cpu-prof` during the load and the largest convergence (default on). */
  profile: boolean;
  help: boolean;
}

export const USAGE = `usage: node dist/bench/run.js [--quick] [--only push,load,scale] [--out <dir>] [--set key=value ...]
  --quick        smaller sizes (make bench-quick; under 10 minutes on 2 cores)
  --only         run only these parts (default: all)
  --out          results folder (default: bench/results/<yyyy-mm-dd>[-quick])
  --no-profile   do not run the operator under the CPU profiler (part 4 is then empty)
  --set k=v      override one setting, e.g. push.pushes=3, load.seconds=5, scale.sizes=300x30,1000x100`;

export function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const config: BenchConfig = structuredClone(quick ? QUICK : FULL);
  let only: Phase[] = [...PHASES];
  let out: string | undefined;
  let help = false;
  let profile = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') continue;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--no-profile') profile = false;
    else if (a === '--only') {
      only = value().split(',').map((s) => s.trim()).filter(Boolean) as Phase[];
      const bad = only.filter((p) => !PHASES.includes(p));
      if (bad.length || only.length === 0) throw new Error(`--only takes ${PHASES.join(', ')}; got ${bad.join(', ') || 'nothing'}`);
    } else if (a === '--out') out = value();
    else if (a === '--set') applySet(config, value());
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return { quick, only, out, config, profile, help };
}

function applySet(config: BenchConfig, assignment: string): void {
  const m = /^(push|load|scale)\.(\w+)=(.+)$/.exec(assignment);
  if (!m) throw new Error(`--set wants part.key=value, got ${assignment}`);
  const [, part, key, raw] = m as unknown as [string, keyof BenchConfig, string, string];
  const section = config[part] as unknown as Record<string, unknown>;
  if (!(key in section)) throw new Error(`--set: ${part} has no setting ${key} (has ${Object.keys(section).join(', ')})`);
  if (part === 'scale' && key === 'sizes') {
    section.sizes = raw.split(',').map((s) => {
      const sm = /^(\d+)x(\d+)$/.exec(s);
      if (!sm) throw new Error(`scale.sizes wants <repositories>x<namespaces>[,...], got ${s}`);
      return { repositories: Number(sm[1]), namespaces: Number(sm[2]) };
    });
    return;
  }
  const current = section[key];
  if (typeof current === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--set ${part}.${key} wants a positive number, got ${raw}`);
    section[key] = n;
  } else section[key] = raw;
}
