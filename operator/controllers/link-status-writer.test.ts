import { expect } from 'chai';
import { Reason } from '../api/v1alpha1/conditions.js';
import { type GitLabFluxLink, LINKS, type PushRecord, type TriggerRecord } from '../api/v1alpha1/types.js';
import { type KubeClient, KubeError, type PatchType } from '../kube/client.js';
import type { Resource } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import { linkControllerUpdate } from '../reconcile/status.js';
import { FakeKube } from '../testing/fake-kube.js';
import { memoryLogger } from '../testing/push-fakes.js';
import { LinkStatusWriter } from './link-status-writer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Patch {
  resource: string;
  namespace: string | undefined;
  name: string;
  body: unknown;
  type: PatchType;
  opts: unknown;
}

/** A KubeClient that records patch() calls; `failFor` names links whose patch is refused. */
function patchRecorder(failFor: Set<string> = new Set()) {
  const patches: Patch[] = [];
  const client = {
    async patch(r: Resource, namespace: string | undefined, name: string, body: unknown, type: PatchType, opts?: unknown) {
      patches.push({ resource: r.plural, namespace, name, body: JSON.parse(JSON.stringify(body)), type, opts });
      if (failFor.has(name)) throw new KubeError(404, 'NotFound', `gitlabfluxlinks "${name}" not found`);
      return {};
    },
  } as unknown as KubeClient;
  return { client, patches };
}

const pushRec = (i: number): PushRecord => ({
  project: 'team/app',
  ref: `refs/heads/b${i}`,
  receivedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
});
const triggerRec = (i: number): TriggerRecord => ({
  gitRepository: `apps/repo-${i}`,
  result: 'delivered',
  at: new Date(Date.UTC(2024, 0, 1, 0, 1, i)).toISOString(),
});

describe('link-status-writer: push records', () => {
  it('turns many updates within the interval into one merge patch per link with the latest records', async () => {
    const { client, patches } = patchRecorder();
    const rec = new LinkStatusWriter({ client: client, log: memoryLogger().log, flushIntervalMs: 20 });
    for (let i = 0; i < 50; i++) {
      rec.recordPush('gitlab', pushRec(i));
      rec.recordTrigger('gitlab', triggerRec(i));
    }
    rec.recordPush('other', pushRec(7));
    expect(patches, 'nothing before the interval').to.have.length(0);
    await sleep(60);
    expect(patches).to.have.length(2);
    const byName = new Map(patches.map((p) => [p.name, p]));
    expect(byName.get('gitlab')).to.deep.equal({
      resource: LINKS.plural,
      namespace: undefined,
      name: 'gitlab',
      body: { status: { lastPush: pushRec(49), lastTrigger: triggerRec(49) } },
      type: 'merge',
      opts: { subresource: 'status' },
    });
    expect(byName.get('other')!.body, 'only the field that changed').to.deep.equal({ status: { lastPush: pushRec(7) } });
  });

  it('a steady stream of pushes is written about once per interval, not once per push', async () => {
    const { client, patches } = patchRecorder();
    const rec = new LinkStatusWriter({ client: client, log: memoryLogger().log, flushIntervalMs: 40 });
    const started = Date.now();
    let i = 0;
    while (Date.now() - started < 130) {
      rec.recordPush('gitlab', pushRec(i++));
      await sleep(5);
    }
    await sleep(80);
    expect(i).to.be.greaterThan(10);
    expect(patches.length).to.be.within(2, 5);
    const last = patches[patches.length - 1]!.body as { status: { lastPush: PushRecord } };
    expect(last.status.lastPush).to.deep.equal(pushRec(i - 1));
  });

  it('writes again for updates after a flush, in a new interval', async () => {
    const { client, patches } = patchRecorder();
    const rec = new LinkStatusWriter({ client: client, log: memoryLogger().log, flushIntervalMs: 20 });
    rec.recordPush('gitlab', pushRec(1));
    await sleep(50);
    rec.recordTrigger('gitlab', triggerRec(2));
    rec.recordTrigger('gitlab', triggerRec(3));
    await sleep(50);
    expect(patches.map((p) => p.body)).to.deep.equal([{ status: { lastPush: pushRec(1) } }, { status: { lastTrigger: triggerRec(3) } }]);
  });

  it('flush() writes at once and leaves nothing pending', async () => {
    const { client, patches } = patchRecorder();
    const rec = new LinkStatusWriter({ client: client, log: memoryLogger().log, flushIntervalMs: 60_000 });
    rec.recordPush('gitlab', pushRec(1));
    await rec.flush();
    expect(patches).to.have.length(1);
    await rec.flush();
    expect(patches).to.have.length(1);
  });

  it('a failing patch goes to onError and does not stop the other links', async () => {
    const { client, patches } = patchRecorder(new Set(['gone']));
    const errors: unknown[] = [];
    const rec = new LinkStatusWriter({ client: client, log: memoryLogger().log, flushIntervalMs: 10, onFlushError: (e) => errors.push(e) });
    rec.recordPush('gone', pushRec(1));
    rec.recordPush('gitlab', pushRec(2));
    await sleep(40);
    expect(patches.map((p) => p.name)).to.deep.equal(['gone', 'gitlab']);
    expect(errors).to.have.length(1);
    expect((errors[0] as KubeError).status).to.equal(404);
  });

  it('against the fake API: one status write, the latest records stored, the rest of the status kept', async () => {
    const kube = new FakeKube();
    kube.seed(LINKS, {
      apiVersion: 'fluxlink.dev/v1alpha1',
      kind: 'GitLabFluxLink',
      metadata: { name: 'gitlab' },
      spec: { gitlab: { url: 'https://gitlab.example.com' }, webhook: { secretRef: { namespace: 'x', name: 'y' } } },
      status: {
        repositories: 3,
        conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: '2024-01-01T00:00:00Z' }],
        lastPush: pushRec(0),
      },
    });
    const rec = new LinkStatusWriter({ client: kube, log: memoryLogger().log, flushIntervalMs: 20 });
    for (let i = 1; i <= 10; i++) {
      rec.recordPush('gitlab', pushRec(i));
      rec.recordTrigger('gitlab', triggerRec(i));
    }
    await sleep(60);
    expect(kube.writes).to.deep.equal([{ verb: 'patch-status', resource: 'gitlabfluxlinks', name: 'gitlab' }]);
    const stored = kube.object<{ metadata: { name: string }; status: Record<string, unknown> }>(LINKS, undefined, 'gitlab')!;
    expect(stored.status.lastPush).to.deep.equal(pushRec(10));
    expect(stored.status.lastTrigger).to.deep.equal(triggerRec(10));
    expect(stored.status.repositories).to.equal(3);
    expect(stored.status.conditions).to.have.length(1);
  });
});

describe('link-status-writer: one writer for the reconcile and the push path', () => {
  const read = (kube: FakeKube) => kube.object<GitLabFluxLink>(LINKS, undefined, 'gitlab')!;
  const seeded = () => {
    const kube = new FakeKube();
    kube.seed(LINKS, {
      apiVersion: 'fluxlink.dev/v1alpha1',
      kind: 'GitLabFluxLink',
      metadata: { name: 'gitlab', generation: 2 },
      spec: { gitlab: { url: 'https://gitlab.example.com' }, webhook: { secretRef: { namespace: 'x', name: 'y' } } },
    });
    return kube;
  };
  const ready = linkControllerUpdate({ kind: 'ready', message: '1 repository linked, 1 receiver ready' }, 2, {
    total: 1,
    ready: 1,
    conflicts: 0,
    entries: [],
  });
  const events = () => {
    const recorded: string[] = [];
    return {
      recorded,
      recorder: {
        record: async (_o: unknown, type: string, reason: string) => void recorded.push(`${type} ${reason}`),
      } as unknown as EventRecorder,
    };
  };

  it("a reconcile's write carries the pending push records: one status write, no separate patch", async () => {
    const kube = seeded();
    const writer = new LinkStatusWriter({ client: kube, log: memoryLogger().log, flushIntervalMs: 60_000 });
    writer.recordPush('gitlab', pushRec(1));
    writer.recordTrigger('gitlab', triggerRec(1));
    await writer.exclusive('gitlab', () => writer.write(read(kube), ready));
    await writer.flush();
    expect(kube.writes).to.deep.equal([{ verb: 'update-status', resource: 'gitlabfluxlinks', name: 'gitlab' }]);
    expect(read(kube).status).to.deep.include({ lastPush: pushRec(1), lastTrigger: triggerRec(1), repositories: 1, observedGeneration: 2 });
  });

  it('push records are not written while a reconcile of that link runs, so its guarded replace is not made to fail', async () => {
    const kube = seeded();
    const writer = new LinkStatusWriter({ client: kube, log: memoryLogger().log, flushIntervalMs: 5 });
    let flushed: Promise<void> | undefined;
    await writer.exclusive('gitlab', async () => {
      const link = read(kube); // the resourceVersion the reconcile read
      writer.recordPush('gitlab', pushRec(1));
      await sleep(30); // several flush intervals pass while the reconcile works
      flushed = writer.flush();
      await sleep(10);
      expect(kube.writes, 'nothing written during the reconcile').to.deep.equal([]);
      writer.recordTrigger('gitlab', triggerRec(2));
      await writer.write(link, ready); // would be a conflict had a patch landed meanwhile
    });
    await flushed;
    await writer.flush();
    expect(kube.writes.map((w) => w.verb)).to.deep.equal(['update-status']);
    expect(read(kube).status).to.deep.include({ lastPush: pushRec(1), lastTrigger: triggerRec(2) });
  });

  it('records that come after the write go out on their own, once the reconcile is over', async () => {
    const kube = seeded();
    const writer = new LinkStatusWriter({ client: kube, log: memoryLogger().log, flushIntervalMs: 60_000 });
    const done = writer.exclusive('gitlab', async () => {
      await writer.write(read(kube), ready);
      writer.recordPush('gitlab', pushRec(3));
      void writer.flush();
      await sleep(10);
      expect(kube.writes.map((w) => w.verb)).to.deep.equal(['update-status']);
    });
    await done;
    await writer.flush();
    await sleep(5);
    expect(kube.writes.map((w) => w.verb)).to.deep.equal(['update-status', 'patch-status']);
    expect(read(kube).status!.lastPush).to.deep.equal(pushRec(3));
  });

  it('a write refused with a conflict keeps the push records it carried for the next write', async () => {
    const kube = seeded();
    const writer = new LinkStatusWriter({ client: kube, log: memoryLogger().log, flushIntervalMs: 60_000 });
    const stale = read(kube);
    kube.setStatus(LINKS, undefined, 'gitlab', { repositories: 0 }); // someone else wrote meanwhile
    writer.recordPush('gitlab', pushRec(4));
    const err = await writer.exclusive('gitlab', () => writer.write(stale, ready)).catch((e: unknown) => e);
    expect((err as KubeError).status).to.equal(409);
    writer.recordTrigger('gitlab', triggerRec(5)); // newer than what failed: kept too
    await writer.exclusive('gitlab', () => writer.write(read(kube), ready));
    expect(read(kube).status).to.deep.include({ lastPush: pushRec(4), lastTrigger: triggerRec(5) });
  });

  it('writes nothing when nothing changes, and reports Ready transitions once as Events', async () => {
    const kube = seeded();
    const { recorded, recorder } = events();
    const writer = new LinkStatusWriter({ client: kube, log: memoryLogger().log, events: recorder, now: () => new Date(0) });
    await writer.exclusive('gitlab', () =>
      writer.write(read(kube), linkControllerUpdate({ kind: 'stalled', reason: Reason.InvalidSpec, message: 'spec.gitlab.url: bad' }, 2)),
    );
    await writer.exclusive('gitlab', () => writer.write(read(kube), ready));
    await writer.exclusive('gitlab', () => writer.write(read(kube), ready));
    expect(kube.writes.map((w) => w.verb)).to.deep.equal(['update-status', 'update-status']);
    expect(recorded).to.deep.equal(['Warning InvalidSpec', 'Normal Succeeded']);
  });
});
