import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../e2e/testenv/paths.js';
import { shippedNodeOptions } from '../e2e/support/operator.js';
import { parseArgs, USAGE } from './args.js';
import { FLUX_CLIENT_ARGS, operatorEnvOverrides } from './ground.js';
import { describeMachine } from './machine.js';
import { runCatchUpSize } from './phases/catch-up.js';
import { runLoadPhase } from './phases/load.js';
import { runOutboundPhase } from './phases/outbound.js';
import { runPushPhase } from './phases/push.js';
import { profileConvergence, runScaleSize } from './phases/scale.js';
import { reportCharts } from './report-charts.js';
import { renderConsole, renderMarkdown } from './report.js';
import type { RunResults } from './results.js';
import { BenchTimeout } from './watch.js';

/**
 * `make bench` / `make bench-quick`: runs the parts on fresh test grounds, one after another, then writes
 * bench/results/<date>[-quick]/{report.md, results.json, *.svg} and prints the table. It measures and
 * reports: a slow figure is a missed target in the report, never a failed build. It exits non-zero only
 * when a part could not run at all (an error, not a slow result).
 */
async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.chartsOnly) return redrawCharts(path.resolve(args.chartsOnly));
  const started = new Date();
  const day = started.toISOString().slice(0, 10);
  const outDir = path.resolve(args.out ?? path.join(repoRoot, 'bench', 'results', `${day}${args.quick ? '-quick' : ''}`));
  const logRoot = path.join(repoRoot, 'e2e', 'logs', `bench-${started.toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(outDir, { recursive: true });
  const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);
  const results: RunResults = {
    quick: args.quick,
    machine: describeMachine(started),
    startedAt: started.toISOString(),
    wallSeconds: 0,
    fluxClientArgs: FLUX_CLIENT_ARGS,
    operatorEnv: args.operatorEnv,
    shippedNodeOptions: shippedNodeOptions(),
    scale: [],
    profiles: [],
    errors: [],
  };
  Object.assign(operatorEnvOverrides, args.operatorEnv);
  log(`results in ${outDir}; component logs in ${logRoot}`);

  const attempt = async (phase: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`${phase} failed: ${message}`);
      results.errors.push({ phase, message, kind: err instanceof BenchTimeout ? 'timeout' : 'error' });
    }
  };
  if (args.only.includes('push'))
    await attempt('push', async () => void (results.push = await runPushPhase(args.config.push, path.join(logRoot, 'push'), log)));
  if (args.only.includes('load'))
    await attempt('load', async () => void (results.load = await runLoadPhase(args.config.load, path.join(logRoot, 'load'), log)));
  if (args.only.includes('scale')) {
    for (const size of args.config.scale.sizes) {
      await attempt(`scale ${size.repositories}`, async () => {
        results.scale.push(
          await runScaleSize(
            { ...size, steadySeconds: args.config.scale.steadySeconds, restartSettleSeconds: args.config.scale.restartSettleSeconds },
            path.join(logRoot, `scale-${size.repositories}`),
            log,
          ),
        );
      });
    }
  }
  // Parts 5 and 7: the catch-up after an outage per size; the sweeps against the budget on the largest size's ground.
  if (args.only.includes('catchup')) {
    const sizes = [...args.config.catchup.sizes].sort((a, b) => a - b);
    for (const [i, n] of sizes.entries()) {
      await attempt(`catchup ${n}`, async () => {
        const pass = await runCatchUpSize(args.config.catchup, n, i === sizes.length - 1, path.join(logRoot, `catchup-${n}`), log);
        results.catchUp ??= { sizes: [] };
        results.catchUp.sizes.push(pass.size);
        if (pass.sweep) results.catchUp.sweep = pass.sweep;
        if (pass.sweepError !== undefined) throw pass.sweepError; // reported as the sweeps' failure; the catch-up stands
      });
    }
  }
  if (args.only.includes('outbound'))
    await attempt(
      'outbound',
      async () => void (results.outbound = await runOutboundPhase(args.config.outbound, path.join(logRoot, 'outbound'), log)),
    );
  // Part 4: profiling passes on fresh grounds, so the profiler's own memory and CPU never enter the figures above.
  const profileDir = path.join(logRoot, 'profiles');
  if (args.profile && args.only.includes('scale')) {
    const largest = [...args.config.scale.sizes].sort((a, b) => b.repositories - a.repositories)[0]!;
    await attempt(`profile scale ${largest.repositories}`, async () => {
      results.profiles.push(
        await profileConvergence(
          largest,
          { dir: profileDir, name: `operator-scale-${largest.repositories}.cpuprofile` },
          path.join(logRoot, 'profile-scale'),
          log,
        ),
      );
    });
  }
  if (args.profile && args.only.includes('load') && args.config.profile.load) {
    await attempt('profile load', async () => {
      const pass = await runLoadPhase(args.config.load, path.join(logRoot, 'profile-load'), log, {
        dir: profileDir,
        name: 'operator-load.cpuprofile',
      });
      if (pass.profile) results.profiles.push(pass.profile);
    });
  }
  results.wallSeconds = (Date.now() - started.getTime()) / 1000;

  const md = renderMarkdown(results, await writeCharts(outDir, results));
  fs.writeFileSync(path.join(outDir, 'report.md'), md.replaceAll(repoRoot + '/', ''));
  fs.writeFileSync(
    path.join(outDir, 'results.json'),
    JSON.stringify(results, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1) + '\n',
  );
  process.stdout.write(renderConsole(results));
  log(`report: ${path.join(outDir, 'report.md')} (${results.wallSeconds.toFixed(0)} s in all)`);
  return results.errors.some((e) => e.kind === 'error') ? 1 : 0;
}

/** Writes the report's SVG charts into `dir`; returns section → file name, as report.md links them. */
async function writeCharts(dir: string, results: RunResults): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const chart of await reportCharts(results)) {
    fs.writeFileSync(path.join(dir, chart.file), chart.svg);
    files[chart.section] = chart.file;
  }
  return files;
}

/**
 * `--charts-only DIR`: draws the charts of a finished run again from its results.json (after a change of the
 * charts), replaces charts of another format with the same name (push-latency.png → push-latency.svg) and
 * points report.md at the new files. The report's text and figures stay as they were written.
 */
async function redrawCharts(dir: string): Promise<number> {
  const file = path.join(dir, 'results.json');
  if (!fs.existsSync(file)) throw new Error(`--charts-only: no results.json in ${dir}`);
  // results.json writes non-finite numbers as strings ("Infinity", "NaN"); read them back as numbers.
  const results = JSON.parse(fs.readFileSync(file, 'utf8'), (_k, v) =>
    v === 'Infinity' || v === '-Infinity' || v === 'NaN' ? Number(v) : v,
  ) as RunResults;
  const files = await writeCharts(dir, results);
  const reportFile = path.join(dir, 'report.md');
  let md = fs.existsSync(reportFile) ? fs.readFileSync(reportFile, 'utf8') : undefined;
  for (const chart of Object.values(files)) {
    const base = chart.replace(/\.svg$/, '');
    for (const old of fs.readdirSync(dir).filter((f) => f !== chart && path.parse(f).name === base && /\.(png|svg)$/.test(f))) {
      fs.rmSync(path.join(dir, old));
      md = md?.replaceAll(`](${old})`, `](${chart})`);
    }
    console.log(path.join(dir, chart));
  }
  if (md !== undefined) fs.writeFileSync(reportFile, md);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
