import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GitLabFluxLinkSpec } from '../api/v1alpha1/types.js';
import type { GitRepository, Secret } from '../flux/types.js';
import { desiredPair, usableToken } from './desired.js';

// Tests run from dist/operator/reconcile; the golden files live beside the sources.
const TESTDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../operator/reconcile/testdata');

/** Compares `actual` with the golden file byte for byte; UPDATE_GOLDEN=1 rewrites it instead. */
function expectGolden(file: string, actual: unknown): void {
  const text = JSON.stringify(actual, null, 2) + '\n';
  const where = path.join(TESTDATA, file);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(TESTDATA, { recursive: true });
    writeFileSync(where, text);
    return;
  }
  let golden: string;
  try {
    golden = readFileSync(where, 'utf8');
  } catch {
    throw new Error(`golden file ${where} is missing; run the tests with UPDATE_GOLDEN=1 to write it, then review it`);
  }
  expect(text, `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites it; review the diff)`).to.equal(golden);
}

const SPEC: GitLabFluxLinkSpec = {
  gitlab: { url: 'https://gitlab.example.com' },
  webhook: { secretRef: { namespace: 'flux-system', name: 'gitlab-webhook' } },
};

const REPO: GitRepository = {
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
  metadata: { name: 'podinfo', namespace: 'apps', uid: '6f1c2a4e-0000-4000-8000-000000000001', resourceVersion: '42', generation: 3 },
  spec: { url: 'https://gitlab.example.com/platform/podinfo.git', ref: { branch: 'main' } },
};

const TOKEN = '0123456789abcdef'.repeat(4); // 64 characters
const LINK_UID = '9d2b7c1e-0000-4000-8000-000000000002';

describe('desiredPair', () => {
  it('generic-hmac (the default type): matches desired-generic-hmac.golden.json', () => {
    expectGolden(
      'desired-generic-hmac.golden.json',
      desiredPair({ name: 'team-a', uid: LINK_UID }, SPEC, { repo: REPO, project: 'platform/podinfo' }, TOKEN),
    );
  });

  it('gitlab type with an interval: matches desired-gitlab.golden.json', () => {
    const spec: GitLabFluxLinkSpec = { ...SPEC, receiver: { type: 'gitlab', interval: '5m' } };
    expectGolden(
      'desired-gitlab.golden.json',
      desiredPair({ name: 'team-a', uid: LINK_UID }, spec, { repo: REPO, project: 'platform/podinfo' }, TOKEN),
    );
  });

  it('is deterministic: the same inputs give identical objects', () => {
    const a = desiredPair({ name: 'team-a', uid: LINK_UID }, SPEC, { repo: REPO, project: 'platform/podinfo' }, TOKEN);
    const b = desiredPair({ name: 'team-a', uid: LINK_UID }, SPEC, { repo: structuredClone(REPO), project: 'platform/podinfo' }, TOKEN);
    expect(JSON.stringify(a)).to.equal(JSON.stringify(b));
  });

  it('depends on the repository only through name and namespace (a new resourceVersion or uid changes nothing)', () => {
    const a = desiredPair({ name: 'team-a', uid: LINK_UID }, SPEC, { repo: REPO, project: 'platform/podinfo' }, TOKEN);
    const moved = {
      ...REPO,
      metadata: { ...REPO.metadata, resourceVersion: '99', generation: 7, uid: 're-created' },
      spec: { ...REPO.spec, ref: { tag: 'v1' } },
    };
    expect(desiredPair({ name: 'team-a', uid: LINK_UID }, SPEC, { repo: moved, project: 'platform/podinfo' }, TOKEN)).to.deep.equal(a);
  });

  it('is owned by the link alone, so that the garbage collector removes both with the link', () => {
    const pair = desiredPair({ name: 'team-a', uid: LINK_UID }, SPEC, { repo: REPO, project: 'platform/podinfo' }, TOKEN);
    const owner = { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', name: 'team-a', uid: LINK_UID };
    expect(pair.secret.metadata.ownerReferences).to.deep.equal([owner]);
    expect(pair.receiver.metadata.ownerReferences).to.deep.equal([owner]);
  });

  it('carries the token base64-encoded in data.token only', () => {
    const pair = desiredPair({ name: 'team-a', uid: LINK_UID }, SPEC, { repo: REPO, project: 'platform/podinfo' }, TOKEN);
    expect(Buffer.from(pair.secret.data!.token!, 'base64').toString()).to.equal(TOKEN);
    expect(JSON.stringify(pair.receiver)).not.to.contain(TOKEN);
    expect(JSON.stringify(pair.receiver)).not.to.contain(pair.secret.data!.token!);
  });

  it('lists push events only for the gitlab type (generic-hmac ignores them)', () => {
    const hmac = desiredPair({ name: 'l', uid: LINK_UID }, SPEC, { repo: REPO, project: 'p/q' }, TOKEN);
    const gitlab = desiredPair(
      { name: 'l', uid: LINK_UID },
      { ...SPEC, receiver: { type: 'gitlab' } },
      { repo: REPO, project: 'p/q' },
      TOKEN,
    );
    expect(hmac.receiver.spec).not.to.have.property('events');
    expect(gitlab.receiver.spec.events).to.deep.equal(['Push Hook', 'Tag Push Hook']);
  });
});

describe('usableToken', () => {
  const secret = (token: string | undefined): Secret => ({
    metadata: { name: 's' },
    data: token === undefined ? {} : { token: Buffer.from(token).toString('base64') },
  });
  const cases: Array<[string, Secret | undefined, string | undefined]> = [
    ['no Secret: none', undefined, undefined],
    ['a Secret without data: none', { metadata: { name: 's' } }, undefined],
    ['a Secret without a token key: none', secret(undefined), undefined],
    ["an empty token (what GitLab's agent writes): none", secret(''), undefined],
    ['a 31-character token is too short', secret('x'.repeat(31)), undefined],
    ['a 32-character token is kept', secret('x'.repeat(32)), 'x'.repeat(32)],
    ['a 64-character token is kept', secret(TOKEN), TOKEN],
  ];
  for (const [story, s, want] of cases) {
    it(story, () => expect(usableToken(s)).to.equal(want));
  }
});
