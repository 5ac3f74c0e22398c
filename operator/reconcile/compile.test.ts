import { expect } from 'chai';
import type { GitLabFluxLink, GitLabFluxLinkSpec } from '../api/v1alpha1/types.js';
import { compileSpec, LinkCompiler } from './compile.js';

const SPEC: GitLabFluxLinkSpec = {
  gitlab: { url: 'https://gitlab.example.com' },
  webhook: { secretRef: { namespace: 'ops', name: 'hook' } },
};
const link = (generation: number | undefined, spec: unknown = SPEC, uid: string | undefined = 'uid-1'): GitLabFluxLink => ({
  apiVersion: 'fluxlink.dev/v1alpha1',
  kind: 'GitLabFluxLink',
  metadata: { name: 'gitlab', uid, generation, creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: spec as GitLabFluxLinkSpec,
});

describe('compile: a link validated and compiled once', () => {
  it('a valid spec: defaults applied, URL and patterns compiled', () => {
    const c = compileSpec(SPEC);
    expect(c.valid).to.equal(true);
    if (!c.valid) return;
    expect(c.spec.trust.projects).to.deep.equal(['**']);
    expect(c.projects.matches('any/group/project')).to.equal(true);
  });

  it('an invalid spec: the message names the field', () => {
    const c = compileSpec({ ...SPEC, gitlab: { url: 'ftp://x' } });
    expect(c).to.have.property('valid', false);
    expect((c as { message: string }).message).to.contain('spec.gitlab.url');
  });

  it('the same generation of the same object is compiled once; a new generation or object again', () => {
    const compiler = new LinkCompiler();
    const first = compiler.compile(link(1));
    expect(compiler.compile(link(1)), 'same uid and generation').to.equal(first);
    const invalid = compiler.compile(link(2, { ...SPEC, gitlab: { url: 'ftp://x' } }));
    expect(invalid.valid, 'a new generation is compiled again').to.equal(false);
    expect(compiler.compile(link(2, SPEC, 'uid-2')).valid, 'a re-created link (new uid) is compiled again').to.equal(true);
  });

  it('objects without uid or generation (not from an API server) are compiled every time', () => {
    const compiler = new LinkCompiler();
    expect(compiler.compile(link(undefined))).not.to.equal(compiler.compile(link(undefined)));
  });

  it('forget() drops a deleted link', () => {
    const compiler = new LinkCompiler();
    const first = compiler.compile(link(1));
    compiler.forget('gitlab');
    expect(compiler.compile(link(1))).not.to.equal(first);
  });

  it('matcher(): none for a link being deleted or an invalid one', () => {
    const compiler = new LinkCompiler();
    expect(compiler.matcher(link(1))).to.include({ name: 'gitlab', createdAt: '2024-01-01T00:00:00Z' });
    const deleting = link(1);
    deleting.metadata.deletionTimestamp = '2024-02-01T00:00:00Z';
    expect(compiler.matcher(deleting)).to.equal(undefined);
    expect(compiler.matcher(link(3, { gitlab: { url: 'https://gitlab.example.com' } }))).to.equal(undefined);
  });
});
