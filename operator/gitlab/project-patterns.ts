// Glob patterns over GitLab project paths (`group/sub/project`), compared case-insensitively
// because GitLab resolves paths that way.
//
// Syntax: segments separated by `/`. A segment is either `**` or a non-empty run of
// `[A-Za-z0-9_.-]` and single `*` (any characters within that one segment).
// `**` follows .gitignore: it stands for zero or more whole segments (`a/**/b` matches `a/b` and
// `a/x/y/b`, `**/b` matches `b` and `x/b`), except at the end, where it stands for one or more:
// `group/**` matches everything inside `group` but not a project literally named `group`.
// Several `**` in a row act as one.
//
// Matching walks segments instead of compiling to a RegExp: project paths arrive in webhook
// bodies, and a regex built from `a*b*c*d` would backtrack exponentially on a long segment.

export interface ProjectMatcher {
  readonly patterns: readonly string[];
  /** True when any pattern matches. An empty pattern list matches nothing. */
  matches(projectPath: string): boolean;
}

const SEGMENT_CHAR = /^[A-Za-z0-9_.\-*]$/;

/**
 * RE2/ECMAScript regex accepting exactly the patterns validatePattern accepts, for a CRD
 * `pattern:`. A plain segment is "no two `*` in a row": every `*` is followed by a literal
 * character, except possibly a last one (`(\*?C)+\*?`), or it is a lone `*`.
 */
const SEGMENT_RE = String.raw`(?:\*\*|(?:\*?[A-Za-z0-9_.-])+\*?|\*)`;
export const PROJECT_PATTERN_REGEX = `^${SEGMENT_RE}(?:/${SEGMENT_RE})*$`;

/** Error message for an invalid pattern, or undefined when it is valid. */
export function validatePattern(pattern: string): string | undefined {
  if (pattern === '') return 'pattern is empty';
  const q = JSON.stringify(pattern);
  if (pattern.startsWith('/')) return `pattern ${q} must not start with "/"`;
  if (pattern.endsWith('/')) return `pattern ${q} must not end with "/"`;
  for (const ch of pattern) {
    if (ch !== '/' && !SEGMENT_CHAR.test(ch)) {
      return `pattern ${q} contains ${JSON.stringify(ch)}; only letters, digits, "_", ".", "-", "*" and "/" are allowed`;
    }
  }
  for (const seg of pattern.split('/')) {
    if (seg === '') return `pattern ${q} has an empty segment ("//")`;
    if (seg === '**') continue;
    if (seg.includes('***')) return `pattern ${q} contains "***"; use "*" within a segment or "**" for any number of segments`;
    if (seg.includes('**'))
      return `pattern ${q} mixes "**" with other characters in segment ${JSON.stringify(seg)}; "**" must be a whole segment`;
  }
  return undefined;
}

/** Compiles patterns; throws an Error naming the first invalid pattern and why. */
export function compilePatterns(patterns: string[]): ProjectMatcher {
  const compiled: string[][] = [];
  for (const p of patterns) {
    const err = validatePattern(p);
    if (err !== undefined) throw new Error(`invalid project pattern: ${err}`);
    const segs: string[] = [];
    for (const s of p.toLowerCase().split('/')) {
      if (s === '**' && segs[segs.length - 1] === '**') continue;
      segs.push(s);
    }
    compiled.push(segs);
  }
  const frozen = Object.freeze([...patterns]);
  return {
    patterns: frozen,
    matches(projectPath: string): boolean {
      const path = projectPath.toLowerCase().split('/');
      if (path.some((s) => s === '')) return false;
      return compiled.some((segs) => matchSegments(segs, path));
    },
  };
}

// Memoised over (pattern index, path index), so `**` costs O(pattern × path) rather than
// trying every split again for each later `**`.
function matchSegments(pat: string[], path: string[]): boolean {
  const memo = new Map<number, boolean>();
  const go = (pi: number, si: number): boolean => {
    const key = pi * (path.length + 1) + si;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    let result: boolean;
    if (pi === pat.length) {
      result = si === path.length;
    } else if (pat[pi] === '**') {
      if (pi === pat.length - 1) {
        result = si < path.length;
      } else {
        result = false;
        for (let k = si; k <= path.length && !result; k++) result = go(pi + 1, k);
      }
    } else {
      result = si < path.length && matchSegment(pat[pi]!, path[si]!) && go(pi + 1, si + 1);
    }
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

// Classic linear-backtrack wildcard match: on a mismatch only the most recent `*` is widened,
// which is enough because `*` cannot cross a segment boundary. O(len(glob) × len(text)) worst case.
function matchSegment(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let starG = -1;
  let starT = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] === '*') {
      starG = g++;
      starT = t;
    } else if (g < glob.length && glob[g] === text[t]) {
      g++;
      t++;
    } else if (starG >= 0) {
      g = starG + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}
