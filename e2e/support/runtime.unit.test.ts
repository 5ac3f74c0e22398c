import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../testenv/paths.js';
import { pinnedNodeVersions, runtimeNodeVersion } from './runtime.js';

const read = (file: string) => fs.readFileSync(path.join(repoRoot, file), 'utf8');

describe('the pinned Node.js runtime (hack/node-versions)', () => {
  it('pins 24 LTS as the runtime and one exact 22 and 26 for the unit tier, each with npm integrity', () => {
    const pins = pinnedNodeVersions();
    expect([...pins.keys()].sort()).to.deep.equal(['runtime', 'unit-22', 'unit-26']);
    expect(runtimeNodeVersion()).to.match(/^24\.\d+\.\d+$/);
    expect(pins.get('unit-22')!.version).to.match(/^22\.\d+\.\d+$/);
    expect(pins.get('unit-26')!.version).to.match(/^26\.\d+\.\d+$/);
  });

  it('rejects a line without an exact version or a sha512 integrity', () => {
    expect(() => pinnedNodeVersions('runtime 24 sha512-AAAA')).to.throw(/expected "<role> <x\.y\.z> sha512-…"/);
    expect(() => pinnedNodeVersions('runtime 24.1.0 sha1-AAAA')).to.throw(/expected/);
    expect(() => pinnedNodeVersions('runtime 24.1.0')).to.throw(/expected/);
    expect(pinnedNodeVersions('# comment\n\nruntime 24.1.0 sha512-AB+/cd==\n').get('runtime')).to.deep.equal({
      version: '24.1.0',
      integrity: 'sha512-AB+/cd==',
    });
  });

  it('the image is built and run on exactly the pinned version', () => {
    const dockerfile = read('Dockerfile');
    const defaults = [...dockerfile.matchAll(/^ARG\s+NODE_IMAGE=(\S+)/gm)].map((m) => m[1]);
    expect(defaults, 'ARG NODE_IMAGE=… (the base of every stage)').to.deep.equal([`node:${runtimeNodeVersion()}-bookworm-slim`]);
    // Every stage starts from that base, except the final one, which holds only what the base's node needs.
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(froms.slice(0, -1)).to.have.length.greaterThan(0);
    for (const from of froms.slice(0, -1)) expect(from, `FROM ${from}`).to.equal('${NODE_IMAGE}');
    expect(froms.at(-1), 'the final stage').to.equal('scratch');
  });

  it("package.json's engines name the runtime's major line, and npm refuses other engines", () => {
    const major = runtimeNodeVersion().split('.')[0];
    expect(JSON.parse(read('package.json')).engines).to.deep.equal({ node: `${major}.x` });
    expect(read('.npmrc')).to.match(/^engine-strict=true$/m);
  });

  it('CI runs the unit tier on every other pinned line', () => {
    const ci = read('.ci/run');
    for (const role of pinnedNodeVersions().keys()) {
      if (role.startsWith('unit-')) expect(ci).to.include(`make --no-print-directory test-unit-node${role.slice('unit-'.length)}`);
    }
  });
});
