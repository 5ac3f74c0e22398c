import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../e2e/testenv/paths.js';
import { type CpuProfile, shortUrl, summarizeProfile } from './cpuprofile.js';
import { sourceResolver } from './sourcemap.js';

describe('bench/sourcemap', () => {
  // The compiled stats module and its own source: `export function percentile` in both.
  const js = path.join(repoRoot, 'dist/bench/stats.js');
  const ts = path.join(repoRoot, 'bench/stats.ts');
  const lineOf = (file: string, text: string) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.includes(text));

  it("maps a function's position in dist/ to its line in the TypeScript source", () => {
    const r = sourceResolver()(pathToFileURL(js).href, lineOf(js, 'export function percentile('), 0);
    expect(r).to.deep.equal({ file: 'bench/stats.ts', line: lineOf(ts, 'export function percentile(') + 1 });
  });

  it('leaves node internals, packages and unknown files alone', () => {
    const resolve = sourceResolver();
    expect(resolve('node:internal/streams/readable', 10, 0)).to.equal(undefined);
    expect(resolve(pathToFileURL(path.join(repoRoot, 'node_modules/winston/lib/winston.js')).href, 1, 0)).to.equal(undefined);
    expect(resolve('file:///nonexistent/x.js', 1, 0)).to.equal(undefined);
  });

  it('a profile summary names the .ts file and line when resolving', () => {
    const url = pathToFileURL(js).href;
    const line = lineOf(js, 'export function percentile(');
    const p: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1, columnNumber: -1 }, children: [2] },
        { id: 2, callFrame: { functionName: 'percentile', url, lineNumber: line, columnNumber: 0 }, children: [] },
      ],
      startTime: 0,
      endTime: 2000,
      samples: [2, 2],
      timeDeltas: [0, 1000],
    };
    expect(summarizeProfile(p, { resolve: sourceResolver() }).topSelf[0]!.name).to.equal(
      `percentile bench/stats.ts:${lineOf(ts, 'export function percentile(') + 1}`,
    );
    expect(shortUrl(pathToFileURL(js).href)).to.equal('bench/stats.js');
  });
});
