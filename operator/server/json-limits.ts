/**
 * Limits on a JSON body's shape, checked on the bytes as they arrive, before anything is parsed. JSON.parse
 * of 5 MiB runs for up to a second on the event loop whatever its result (measured on Node 20: 5 MiB of `[`
 * 0.6 s, of `{},` 0.5 s, of arrays nested 32 deep 1 s, with 70 to 120 MiB of heap), and nothing else — probes,
 * Lease renewal, other webhooks — runs meanwhile. The scan is linear, keeps a few numbers, and gives its
 * verdict at the first byte past a limit (the webhook route then keeps nothing more).
 *
 * - Depth: GitLab's push payloads nest 4 deep (`commits[].author.name`); 32 leaves ample room.
 * - Values: every `{`, `[` and `,` outside strings starts a value. A push payload has about 30 per commit plus
 *   one per file listed (at most 20 commits are listed), i.e. a few thousand; 100,000 keeps the worst parse
 *   near 0.1 s (dictionary-mode objects cost about 1 µs a key, arrays and small objects a third of that).
 * Strings are skipped with their escapes, and UTF-8 needs no decoding: every byte of a multi-byte character
 * is 0x80 or above, so never a quote, backslash or bracket.
 */
export const MAX_JSON_DEPTH = 32;
export const MAX_JSON_VALUES = 100_000;

export type JsonShapeVerdict = 'ok' | 'too-deep' | 'too-many-values';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

export class JsonShapeScanner {
  private depth = 0;
  private values = 0;
  private inString = false;
  private escaped = false;
  private verdict: JsonShapeVerdict = 'ok';

  constructor(
    private readonly maxDepth = MAX_JSON_DEPTH,
    private readonly maxValues = MAX_JSON_VALUES,
  ) {}

  /** Scans the next bytes; once a limit is passed the verdict stays. Malformed JSON is JSON.parse's to refuse. */
  feed(chunk: Uint8Array): JsonShapeVerdict {
    if (this.verdict !== 'ok') return this.verdict;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        if (++this.depth > this.maxDepth) return (this.verdict = 'too-deep');
        if (++this.values > this.maxValues) return (this.verdict = 'too-many-values');
      } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) this.depth--;
      else if (c === COMMA && ++this.values > this.maxValues) return (this.verdict = 'too-many-values');
    }
    return 'ok';
  }
}

/** The whole body at once (tests, and any caller that has the bytes already). */
export function jsonShape(body: Uint8Array, maxDepth = MAX_JSON_DEPTH, maxValues = MAX_JSON_VALUES): JsonShapeVerdict {
  return new JsonShapeScanner(maxDepth, maxValues).feed(body);
}
