import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { GitLabFluxLink } from '../api/v1alpha1/types.js';
import type { EventRecorder } from '../observability/events.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { LinkCompiler } from '../reconcile/compile.js';
import { FakeKube } from '../testing/fake-kube.js';
import { setupHooksController } from './hooks-setup.js';
import { LinkStatusWriter } from './link-status-writer.js';

const link = (generation: number, deleting = false): GitLabFluxLink =>
  ({
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name: 'prod', uid: 'u1', generation, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: {},
  }) as unknown as GitLabFluxLink;

describe('hooks-setup: which passes of the link controller wake the hooks (each hooks pass costs GitLab requests)', () => {
  it('news only: the first word, other projects, a spec change, the link deleted or gone; not a pass that changed nothing', async () => {
    const client = new FakeKube();
    const log = createLogger('error', new Writable({ write: (_c, _e, done) => done() }));
    const events = { record: async () => undefined } as unknown as EventRecorder;
    const setup = setupHooksController({
      client,
      compiler: new LinkCompiler(),
      status: new LinkStatusWriter({ client, log }),
      log,
      metrics: new Metrics(),
      events,
      paused: true, // a follower: nothing runs, the queue only collects keys
    });
    const wakes: number[] = [];
    let added = 0;
    setup.queue.add = () => void added++; // each wake-up counted (the queue itself would collapse them)
    const pass = (l: GitLabFluxLink | undefined, projects: string[] | undefined) => {
      const before = added;
      setup.onPass('prod', l, projects);
      wakes.push(added - before);
    };
    pass(link(1), ['a/one']); // first word
    pass(link(1), ['a/one']); // nothing new
    pass(link(1), ['a/one', 'b/two']); // a project joined
    pass(link(2), ['a/one', 'b/two']); // the spec changed
    pass(link(2), undefined); // a pass that decided no projects (waiting, suspended): the resync looks
    pass(link(2, true), undefined); // being deleted
    pass(undefined, undefined); // gone
    expect(wakes).to.deep.equal([1, 0, 1, 1, 0, 1, 1]);
    await setup.drain();
  });

  it('a rotated Secret wakes the links whose GitLab hooks carry it (webhook token or signing key), no other', async () => {
    const client = new FakeKube();
    const log = createLogger('error', new Writable({ write: (_c, _e, done) => done() }));
    const setup = setupHooksController({
      client,
      compiler: new LinkCompiler(),
      status: new LinkStatusWriter({ client, log }),
      log,
      metrics: new Metrics(),
      events: { record: async () => undefined } as unknown as EventRecorder,
      paused: true,
    });
    const woken: string[] = [];
    setup.queue.add = (key: string) => void woken.push(key);
    const ref = (name: string) => ({ namespace: 'gitlab-flux-link', name, key: 'token' });
    const withSpec = (name: string, spec: object) => ({ ...link(1), metadata: { name, uid: name }, spec }) as unknown as GitLabFluxLink;
    const api = { tokenSecretRef: ref('api-token') };
    setup.secretRotated('gitlab-flux-link', 'hook-token', [
      withSpec('token-user', { gitlab: { url: 'https://g', api }, webhook: { secretRef: ref('hook-token') } }),
      withSpec('signing-user', {
        gitlab: { url: 'https://g', api },
        webhook: { secretRef: ref('other'), signingSecretRef: ref('hook-token') },
      }),
      withSpec('manual-hooks', { gitlab: { url: 'https://g' }, webhook: { secretRef: ref('hook-token') } }), // no api: no hooks to re-key
      withSpec('other-secret', { gitlab: { url: 'https://g', api }, webhook: { secretRef: ref('other') } }),
      withSpec('other-namespace', {
        gitlab: { url: 'https://g', api },
        webhook: { secretRef: { ...ref('hook-token'), namespace: 'team-a' } },
      }),
      withSpec('no-spec', undefined as unknown as object),
    ]);
    expect(woken).to.deep.equal(['token-user', 'signing-user']);
    await setup.drain();
  });
});
