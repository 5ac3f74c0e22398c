import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../e2e/testenv/paths.js';

/**
 * Maps a position in a compiled file (dist/**\/*.js, 0-based line and column, as V8's profiles give them)
 * to the TypeScript source it came from (a path relative to the repository), through the `.js.map` next
 * to it (tsconfig has sourceMap: true).
 * Returns undefined when there is no map or no mapping; the profile then shows the compiled position.
 */
export type SourceResolver = (url: string, line: number, column: number) => { file: string; line: number } | undefined;

export function sourceResolver(): SourceResolver {
  const maps = new Map<string, SourceMap | undefined>();
  const load = (jsFile: string) => {
    if (!maps.has(jsFile)) {
      let map: SourceMap | undefined;
      try {
        map = new SourceMap(JSON.parse(fs.readFileSync(`${jsFile}.map`, 'utf8')));
      } catch {
        map = undefined;
      }
      maps.set(jsFile, map);
    }
    return maps.get(jsFile);
  };
  return (url, line, column) => {
    if (!url.startsWith('file://') || url.includes('/node_modules/') || line < 0) return undefined;
    const jsFile = fileURLToPath(url);
    const map = load(jsFile);
    const entry = map?.findEntry(line, Math.max(0, column)) as { originalSource?: string; originalLine?: number } | undefined;
    if (!entry?.originalSource || entry.originalLine === undefined) return undefined;
    const source = entry.originalSource.startsWith('file://')
      ? fileURLToPath(entry.originalSource)
      : path.resolve(path.dirname(jsFile), entry.originalSource);
    return { file: path.relative(repoRoot, source), line: entry.originalLine + 1 };
  };
}
