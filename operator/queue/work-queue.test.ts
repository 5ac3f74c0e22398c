import { expect } from 'chai';
import { deferred, FakeClock } from '../testing/fake-clock.js';
import { type Outcome, WorkQueue } from './work-queue.js';

const settle = async (rounds = 5) => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

const DONE: Outcome = { kind: 'done' };
const RETRY: Outcome = { kind: 'retry', error: new Error('boom') };

/** A handler whose calls block until released, recording concurrency per key and overall. */
function gatedHandler() {
  const calls: string[] = [];
  const gates: Array<{ key: string; release: (o?: Outcome) => void }> = [];
  const runningPerKey = new Map<string, number>();
  let running = 0;
  let maxRunning = 0;
  let maxSameKey = 0;
  const handler = async (key: string): Promise<Outcome> => {
    calls.push(key);
    running++;
    maxRunning = Math.max(maxRunning, running);
    runningPerKey.set(key, (runningPerKey.get(key) ?? 0) + 1);
    maxSameKey = Math.max(maxSameKey, runningPerKey.get(key)!);
    const d = deferred<Outcome | undefined>();
    gates.push({ key, release: (o) => d.resolve(o) });
    const outcome = (await d.promise) ?? DONE;
    running--;
    runningPerKey.set(key, runningPerKey.get(key)! - 1);
    return outcome;
  };
  return {
    handler,
    calls,
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
    get maxSameKey() {
      return maxSameKey;
    },
    /** Releases the oldest blocked call of `key` (or the oldest of all). */
    release(key?: string, outcome?: Outcome) {
      const i = gates.findIndex((g) => key === undefined || g.key === key);
      if (i < 0) throw new Error(`no blocked call for ${key}`);
      gates.splice(i, 1)[0]!.release(outcome);
    },
    get blocked() {
      return gates.map((g) => g.key);
    },
  };
}

describe('WorkQueue', () => {
  describe('deduplication and exclusivity', () => {
    it('collapses a key added many times while it waits into one run', async () => {
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 1, clock: new FakeClock() });
      q.add('busy'); // occupies the only worker
      for (let i = 0; i < 3; i++) q.add('waiting');
      expect(q.depth).to.equal(1);
      h.release('busy');
      await settle();
      h.release('waiting');
      await settle();
      expect(h.calls).to.deep.equal(['busy', 'waiting']);
    });

    it('never runs one key twice at once, even with idle workers', async () => {
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 4, clock: new FakeClock() });
      q.add('a');
      await settle();
      q.add('a');
      q.add('a');
      await settle();
      expect(h.running).to.equal(1);
      expect(q.depth).to.equal(0, 'a key being processed is not also waiting');
      h.release('a');
      await settle();
      h.release('a');
      await settle();
      expect(h.maxSameKey).to.equal(1);
    });

    it('runs a key added during its processing exactly once more afterwards', async () => {
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 2, clock: new FakeClock() });
      q.add('a');
      await settle();
      q.add('a');
      q.add('a');
      h.release('a');
      await settle();
      expect(h.calls).to.deep.equal(['a', 'a']);
      h.release('a');
      await settle();
      expect(h.calls).to.deep.equal(['a', 'a'], 'no third run');
      expect(h.blocked).to.deep.equal([]);
    });

    it('runs N workers in parallel across keys and no more', async () => {
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 3, clock: new FakeClock() });
      for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
      await settle();
      expect(h.blocked).to.deep.equal(['a', 'b', 'c']);
      expect(q.depth).to.equal(2);
      h.release('b');
      await settle();
      expect(h.blocked).to.deep.equal(['a', 'c', 'd'], 'the freed worker takes the next key in FIFO order');
      h.release();
      h.release();
      h.release();
      await settle();
      h.release();
      await settle();
      expect(h.calls).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
      expect(h.maxRunning).to.equal(3);
    });

    it('reports the depth as keys wait and leave', async () => {
      const depths: number[] = [];
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 1, clock: new FakeClock(), onDepthChange: (d) => depths.push(d) });
      q.add('a');
      q.add('b');
      await settle();
      h.release('a');
      await settle();
      h.release('b');
      await settle();
      expect(depths).to.deep.equal([1, 0, 1, 0]);
    });
  });

  describe('per-key backoff', () => {
    /** Runs a key whose handler always fails; returns the delay scheduled after each failure. */
    async function failureDelays(opts: { baseMs: number; maxMs: number } | undefined, failures: number): Promise<number[]> {
      const clock = new FakeClock();
      const q = new WorkQueue(async () => RETRY, { workers: 1, clock, backoff: opts });
      const delays: number[] = [];
      q.add('a');
      await settle();
      for (let i = 0; i < failures; i++) {
        const [delay] = clock.pending();
        delays.push(delay!);
        clock.advance(delay!);
        await settle();
      }
      await q.shutdown();
      return delays;
    }

    it('doubles from 500 ms by default: 500, 1000, 2000, 4000', async () => {
      expect(await failureDelays(undefined, 4)).to.deep.equal([500, 1000, 2000, 4000]);
    });

    it('is capped at maxMs', async () => {
      expect(await failureDelays({ baseMs: 500, maxMs: 3000 }, 6)).to.deep.equal([500, 1000, 2000, 3000, 3000, 3000]);
    });

    it('caps the default at five minutes however long the failures last', async () => {
      const delays = await failureDelays(undefined, 15);
      expect(delays.slice(-3)).to.deep.equal([300_000, 300_000, 300_000]);
    });

    it('treats a thrown error like a retry and tells onError the attempt number', async () => {
      const clock = new FakeClock();
      const errors: Array<[string, string, number]> = [];
      const q = new WorkQueue(
        async () => {
          throw new Error('kaput');
        },
        { workers: 1, clock, onError: (key, e, attempt) => errors.push([key, (e as Error).message, attempt]) },
      );
      q.add('a');
      await settle();
      clock.advance(500);
      await settle();
      expect(errors).to.deep.equal([
        ['a', 'kaput', 1],
        ['a', 'kaput', 2],
      ]);
      expect(q.attempts('a')).to.equal(2);
      expect(clock.pending()).to.deep.equal([1000]);
      await q.shutdown();
    });

    it('keeps the backoff of each key to itself', async () => {
      const clock = new FakeClock();
      const q = new WorkQueue(async (key) => (key === 'bad' ? RETRY : DONE), { workers: 2, clock });
      q.add('bad');
      q.add('good');
      await settle();
      clock.advance(500);
      await settle();
      expect(q.attempts('bad')).to.equal(2);
      expect(q.attempts('good')).to.equal(0);
      await q.shutdown();
    });

    it('resets after a success: the next failure waits 500 ms again', async () => {
      const clock = new FakeClock();
      const script: Outcome[] = [RETRY, RETRY, DONE, RETRY];
      const at: number[] = [];
      const q = new WorkQueue(
        async () => {
          at.push(clock.now());
          return script.shift() ?? DONE;
        },
        { workers: 1, clock },
      );
      q.add('a');
      await settle();
      clock.advance(500);
      await settle();
      clock.advance(1000);
      await settle();
      expect(q.attempts('a')).to.equal(0, 'success forgets the failures');
      expect(clock.pending()).to.deep.equal([]);
      q.add('a');
      await settle();
      expect(clock.pending()).to.deep.equal([500]);
      expect(at).to.deep.equal([0, 500, 1500, 1500]);
      await q.shutdown();
    });
  });

  describe('addAfter', () => {
    it('keeps the earliest schedule when a later one is asked for', async () => {
      const clock = new FakeClock();
      const at: number[] = [];
      const q = new WorkQueue(async () => (at.push(clock.now()), DONE), { workers: 1, clock });
      q.addAfter('a', 300);
      q.addAfter('a', 1000);
      expect(clock.pending()).to.deep.equal([300]);
      clock.advance(5000);
      await settle();
      expect(at).to.deep.equal([300]);
    });

    it('moves the schedule earlier when an earlier one is asked for', async () => {
      const clock = new FakeClock();
      const at: number[] = [];
      const q = new WorkQueue(async () => (at.push(clock.now()), DONE), { workers: 1, clock });
      q.addAfter('a', 1000);
      q.addAfter('a', 300);
      expect(clock.pending()).to.deep.equal([300]);
      clock.advance(5000);
      await settle();
      expect(at).to.deep.equal([300]);
    });

    it('adds at once for a zero delay', async () => {
      const clock = new FakeClock();
      const calls: string[] = [];
      const q = new WorkQueue(async (k) => (calls.push(k), DONE), { workers: 1, clock });
      q.addAfter('a', 0);
      await settle();
      expect(calls).to.deep.equal(['a']);
    });

    it('honours requeueAfter from the handler without counting it as a failure', async () => {
      const clock = new FakeClock();
      let n = 0;
      const q = new WorkQueue(async () => (++n === 1 ? { kind: 'requeueAfter', ms: 30_000 } : DONE), { workers: 1, clock });
      q.add('a');
      await settle();
      expect(clock.pending()).to.deep.equal([30_000]);
      expect(q.attempts('a')).to.equal(0);
      clock.advance(30_000);
      await settle();
      expect(n).to.equal(2);
    });
  });

  describe('shutdown', () => {
    it('waits for running handlers, drops waiting keys, schedules and new adds', async () => {
      const clock = new FakeClock();
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 1, clock });
      q.add('running');
      q.add('waiting');
      q.addAfter('scheduled', 1000);
      await settle();
      let drained = false;
      const done = q.shutdown().then(() => (drained = true));
      q.add('late');
      q.addAfter('later', 10);
      expect(clock.pending()).to.deep.equal([], 'schedules are cancelled');
      await settle();
      expect(drained).to.equal(false, 'a running handler is waited for');
      h.release('running', RETRY); // a failure during shutdown schedules nothing
      await done;
      expect(clock.pending()).to.deep.equal([]);
      clock.advance(10_000);
      await settle();
      expect(h.calls).to.deep.equal(['running']);
    });

    it('resolves at once when idle', async () => {
      const q = new WorkQueue(async () => DONE, { workers: 2, clock: new FakeClock() });
      await q.shutdown();
    });

    it('resolves every caller when shutdown is called twice while a handler runs', async () => {
      // BUG (work-queue.ts shutdown): the second call overwrites `drained`, so the first promise never resolves.
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 1, clock: new FakeClock() });
      q.add('a');
      await settle();
      const results: string[] = [];
      const first = q.shutdown().then(() => results.push('first'));
      const second = q.shutdown().then(() => results.push('second'));
      h.release('a');
      await settle();
      expect(results.sort()).to.deep.equal(['first', 'second']);
      await Promise.race([Promise.all([first, second]), settle()]);
    });
  });

  describe('pause and resume (leader election)', () => {
    it('keeps keys while paused, processes none, and runs each once on resume', async () => {
      const calls: string[] = [];
      const q = new WorkQueue(async (k) => (calls.push(k), DONE), { workers: 2, clock: new FakeClock(), paused: true });
      q.add('a');
      q.add('b');
      q.add('a');
      await settle();
      expect(calls).to.deep.equal([]);
      expect(q.depth).to.equal(2);
      q.resume();
      await settle();
      expect(calls.sort()).to.deep.equal(['a', 'b']);
    });

    it('lets a running key finish after pause but starts no other', async () => {
      const h = gatedHandler();
      const q = new WorkQueue(h.handler, { workers: 1, clock: new FakeClock() });
      q.add('running');
      q.add('next');
      await settle();
      q.pause();
      h.release('running');
      await settle();
      expect(h.calls).to.deep.equal(['running']);
      q.resume();
      await settle();
      expect(h.calls).to.deep.equal(['running', 'next']);
      h.release('next');
    });
  });
});
