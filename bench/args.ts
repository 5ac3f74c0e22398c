import { FULL, QUICK, type BenchConfig } from './config.js';

/**
 * Command line: `node dist/bench/run.js [--quick] [--only push,load,scale,catchup,outbound] [--out <dir>] [--set key=value ...]`.
 * `--set` changes one size for development, e.g. `--set push.pushes=3 --set scale.sizes=300x30`.
 */
export const PHASES = ['push', 'load', 'scale', 'catchup', 'outbound'] as const;
export type Phase = (typeof PHASES)[number];

export interface Args {
  quick: boolean;
  only: Phase[];
  out?: string;
  config: BenchConfig;
  /** Run the profiling passes (operator under `node --cpu-prof`; default on). */
  profile: boolean;
  /** Environment added to every operator process (`--operator-env K=V`). */
  operatorEnv: Record<string, string>;
  help: boolean;
  /** `--charts-only DIR`: only draw the charts of DIR/results.json again (nothing is measured). */
  chartsOnly?: string;
}

export const USAGE = `usage: node dist/bench/run.js [--quick] [--only push,load,scale,catchup,outbound] [--out <dir>] [--set key=value ...]
  --quick        smaller sizes (make bench-quick; under 10 minutes on 2 cores)
  --only         run only these parts (default: all)
  --out          results folder (default: bench/results/<yyyy-mm-dd>[-quick])
  --no-profile   skip the profiling passes (part 4 is then empty)
  --operator-env K=V   add to the operator's environment, e.g. NODE_OPTIONS=--max-old-space-size=192
  --set k=v      override one setting, e.g. push.pushes=3, load.seconds=5, scale.sizes=300x30,1000x100, profile.load=true,
                 catchup.sizes=200,1000, outbound.sweepSeconds=10
  --charts-only DIR   measure nothing: draw the charts of DIR/results.json again and link them from DIR/report.md`;

export function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const config: BenchConfig = structuredClone(quick ? QUICK : FULL);
  let only: Phase[] = [...PHASES];
  let out: string | undefined;
  let help = false;
  let profile = true;
  let chartsOnly: string | undefined;
  const operatorEnv: Record<string, string> = {};
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
    else if (a === '--operator-env') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(value());
      if (!m) throw new Error('--operator-env wants NAME=value');
      operatorEnv[m[1]!] = m[2]!;
    } else if (a === '--only') {
      only = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean) as Phase[];
      const bad = only.filter((p) => !PHASES.includes(p));
      if (bad.length || only.length === 0) throw new Error(`--only takes ${PHASES.join(', ')}; got ${bad.join(', ') || 'nothing'}`);
    } else if (a === '--out') out = value();
    else if (a === '--charts-only') chartsOnly = value();
    else if (a === '--set') applySet(config, value());
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return { quick, only, out, config, profile, operatorEnv, help, ...(chartsOnly === undefined ? {} : { chartsOnly }) };
}

function applySet(config: BenchConfig, assignment: string): void {
  const m = /^(push|load|scale|catchup|outbound|profile)\.(\w+)=(.+)$/.exec(assignment);
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
  if (part === 'catchup' && key === 'sizes') {
    section.sizes = raw.split(',').map((s) => {
      if (!/^[1-9]\d*$/.test(s)) throw new Error(`catchup.sizes wants <repositories>[,...], got ${s}`);
      return Number(s);
    });
    return;
  }
  const current = section[key];
  if (typeof current === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new Error(`--set ${part}.${key} wants true or false, got ${raw}`);
    section[key] = raw === 'true';
  } else if (typeof current === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--set ${part}.${key} wants a positive number, got ${raw}`);
    section[key] = n;
  } else section[key] = raw;
}
