import { expect } from 'chai';
import { deferred, settle } from '../testing/informers.js';
import { type TriggerJob, TriggerQueue } from './trigger-queue.js';

/**
 * A job whose run() waits for release(); it records into `log` when it starts and finishes, and into
 * `concurrency` how many jobs (of any key) and how many of its own key are running at once.
 */
class Harness {
  readonly log: string[] = [];
  readonly gates = new Map<string, Array<() => void>>();
  running = 0;
  maxRunning = 0;
  readonly runningByKey = new Map<string, number>();
  maxSameKey = 0;

  job(key: string, label = key): TriggerJob {
    return {
      key,
      run: async () => {
        this.running++;
        this.maxRunning = Math.max(this.maxRunning, this.running);
        const same = (this.runningByKey.get(key) ?? 0) + 1;
        this.runningByKey.set(key, same);
        this.maxSameKey = Math.max(this.maxSameKey, same);
        this.log.push(`start ${label}`);
        const d = deferred();
        const list = this.gates.get(key) ?? [];
        list.push(() => d.resolve());
        this.gates.set(key, list);
        await d.promise;
        this.running--;
        this.runningByKey.set(key, (this.runningByKey.get(key) ?? 1) - 1);
        this.log.push(`end ${label}`);
      },
    };
  }

  /** Lets the oldest run of `key` finish. */
  async release(key: string): Promise<void> {
    const list = this.gates.get(key);
    const next = list?.shift();
    if (!next) throw new Error(`nothing running for ${key}`);
    next();
    await settle();
  }

  async releaseAll(): Promise<void> {
    for (let guard = 0; guard < 10_000; guard++) {
      const key = [...this.gates.entries()].find(([, l]) => l.length > 0)?.[0];
      if (!key) return;
      await this.release(key);
    }
    throw new Error('releaseAll: jobs keep coming');
  }
}

describe('trigger-queue: TriggerQueue', () => {
  it('runs a queued job at once when there is room', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 2, maxPending: 10 });
    expect(q.enqueue(h.job('ns/a'))).to.equal('queued');
    await settle();
    expect(h.log).to.deep.equal(['start ns/a']);
    expect(q.inFlight).to.equal(1);
    expect(q.depth).to.equal(0);
    await h.releaseAll();
    await q.idle();
  });

  it('coalesces pushes while a trigger waits, and the newest job replaces the waiting one', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 1, maxPending: 10 });
    q.enqueue(h.job('ns/blocker'));
    await settle();
    expect(q.enqueue(h.job('ns/a', 'a#1'))).to.equal('queued');
    expect(q.enqueue(h.job('ns/a', 'a#2'))).to.equal('coalesced');
    expect(q.enqueue(h.job('ns/a', 'a#3'))).to.equal('coalesced');
    expect(q.depth).to.equal(1);
    await h.releaseAll();
    await q.idle();
    expect(h.log.filter((l) => l.startsWith('start a'))).to.deep.equal(['start a#3']);
  });

  it('keeps the waiting position of a coalesced key (FIFO by first arrival)', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 1, maxPending: 10 });
    q.enqueue(h.job('ns/blocker'));
    await settle();
    q.enqueue(h.job('ns/a', 'a#1'));
    q.enqueue(h.job('ns/b', 'b#1'));
    q.enqueue(h.job('ns/a', 'a#2'));
    await h.releaseAll();
    await q.idle();
    expect(h.log.filter((l) => l.startsWith('start'))).to.deep.equal(['start ns/blocker', 'start a#2', 'start b#1']);
  });

  it('queues exactly one more run when pushes arrive while the trigger runs, and never runs a key twice at once', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 4, maxPending: 10 });
    expect(q.enqueue(h.job('ns/a', 'a#1'))).to.equal('queued');
    await settle();
    expect(h.log).to.deep.equal(['start a#1']);
    expect(q.enqueue(h.job('ns/a', 'a#2'))).to.equal('queued');
    expect(q.enqueue(h.job('ns/a', 'a#3'))).to.equal('coalesced');
    await settle();
    // Room for 4, but a#3 must wait for a#1.
    expect(h.log).to.deep.equal(['start a#1']);
    expect(q.depth).to.equal(1);
    await h.release('ns/a');
    expect(h.log).to.deep.equal(['start a#1', 'end a#1', 'start a#3']);
    await h.releaseAll();
    await q.idle();
    expect(h.log).to.deep.equal(['start a#1', 'end a#1', 'start a#3', 'end a#3']);
    expect(h.maxSameKey).to.equal(1);
  });

  it('lets other keys pass a key that waits for its own running trigger', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 2, maxPending: 10 });
    q.enqueue(h.job('ns/a', 'a#1'));
    await settle();
    q.enqueue(h.job('ns/a', 'a#2')); // waits behind a#1
    q.enqueue(h.job('ns/b', 'b#1')); // must not wait behind a#2
    await settle();
    expect(h.log).to.deep.equal(['start a#1', 'start b#1']);
    await h.releaseAll();
    await q.idle();
  });

  for (const concurrency of [1, 3, 16]) {
    it(`never has more than concurrency=${concurrency} triggers in flight`, async () => {
      const h = new Harness();
      const q = new TriggerQueue({ concurrency, maxPending: 1000 });
      for (let i = 0; i < 50; i++) q.enqueue(h.job(`ns/r${i}`));
      await settle();
      expect(q.inFlight).to.equal(concurrency);
      expect(h.running).to.equal(concurrency);
      expect(q.depth).to.equal(50 - concurrency);
      await h.releaseAll();
      await q.idle();
      expect(h.maxRunning).to.equal(concurrency);
      expect(h.log.filter((l) => l.startsWith('end'))).to.have.length(50);
    });
  }

  it('drops a new key when maxPending Receivers wait, without growing, and keeps coalescing the waiting ones', async () => {
    const h = new Harness();
    const depths: number[] = [];
    const q = new TriggerQueue({ concurrency: 1, maxPending: 3, onDepth: (d) => depths.push(d) });
    q.enqueue(h.job('ns/running'));
    await settle();
    expect(['ns/a', 'ns/b', 'ns/c'].map((k) => q.enqueue(h.job(k)))).to.deep.equal(['queued', 'queued', 'queued']);
    expect(q.enqueue(h.job('ns/d'))).to.equal('dropped');
    expect(q.enqueue(h.job('ns/e'))).to.equal('dropped');
    expect(q.depth).to.equal(3);
    expect(Math.max(...depths)).to.equal(3);
    // A Receiver already waiting still absorbs pushes.
    expect(q.enqueue(h.job('ns/b', 'b#2'))).to.equal('coalesced');
    // The running Receiver can't queue its one-more run either: that would be a 4th waiting entry.
    expect(q.enqueue(h.job('ns/running', 'running#2'))).to.equal('dropped');
    expect(q.depth).to.equal(3);
    await h.releaseAll();
    await q.idle();
    expect(h.log.filter((l) => l.startsWith('start'))).to.deep.equal(['start ns/running', 'start ns/a', 'start b#2', 'start ns/c']);
  });

  it('accepts new keys again once the waiting ones are sent', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 1, maxPending: 1 });
    q.enqueue(h.job('ns/a'));
    await settle();
    expect(q.enqueue(h.job('ns/b'))).to.equal('queued');
    expect(q.enqueue(h.job('ns/c'))).to.equal('dropped');
    await h.release('ns/a'); // b starts, nothing waits
    expect(q.enqueue(h.job('ns/c'))).to.equal('queued');
    await h.releaseAll();
    await q.idle();
  });

  it('reports depth through onDepth as it changes', async () => {
    const h = new Harness();
    const depths: number[] = [];
    const q = new TriggerQueue({ concurrency: 1, maxPending: 10, onDepth: (d) => depths.push(d) });
    q.enqueue(h.job('ns/a'));
    q.enqueue(h.job('ns/b'));
    await settle(); // jobs start on the next tick
    await h.releaseAll();
    await q.idle();
    expect(depths[depths.length - 1]).to.equal(0);
    expect(Math.max(...depths)).to.equal(1);
  });

  it('idle() resolves at once when empty, and only when everything is drained otherwise', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 1, maxPending: 10 });
    await q.idle();
    q.enqueue(h.job('ns/a'));
    q.enqueue(h.job('ns/b'));
    let idle = false;
    void q.idle().then(() => (idle = true));
    await settle();
    expect(idle).to.equal(false);
    await h.release('ns/a');
    expect(idle, 'b still runs').to.equal(false);
    await h.release('ns/b');
    expect(idle).to.equal(true);
  });

  it('a job that rejects does not stop the queue', async () => {
    const q = new TriggerQueue({ concurrency: 1, maxPending: 10 });
    const ran: string[] = [];
    q.enqueue({
      key: 'ns/a',
      run: async () => {
        ran.push('a');
        throw new Error('boom');
      },
    });
    q.enqueue({
      key: 'ns/b',
      run: async () => {
        ran.push('b');
      },
    });
    await q.idle();
    expect(ran).to.deep.equal(['a', 'b']);
    expect(q.inFlight).to.equal(0);
  });

  it('close() stops accepting triggers and resolves once the accepted ones are sent', async () => {
    const h = new Harness();
    const q = new TriggerQueue({ concurrency: 1, maxPending: 10 });
    q.enqueue(h.job('ns/a'));
    q.enqueue(h.job('ns/b'));
    let closed = false;
    void q.close().then(() => (closed = true));
    expect(q.enqueue(h.job('ns/c'))).to.equal('dropped');
    await settle();
    expect(closed).to.equal(false);
    await h.releaseAll();
    expect(closed).to.equal(true);
    expect(h.log.filter((l) => l.startsWith('start'))).to.deep.equal(['start ns/a', 'start ns/b']);
  });
});
