import { expect } from 'chai';
import { INVALID_SPECS } from '../../operator/api/v1alpha1/invalid-specs.js';
import { testEnv } from '../hooks.js';
import { condition, eventually, getJson } from '../support/kube.js';
import { type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';

/**
 * The corpus of invalid specs (operator/api/v1alpha1/invalid-specs.ts, also used by the unit tests) against
 * the real API server and the operator: each is refused by the API server with a message naming the field,
 * or — where the CRD cannot express a rule — stored and then Stalled by the operator with a message naming
 * the field, having created nothing. "Validated twice, the same rules": no invalid spec gets through both.
 */
describe('invalid GitLabFluxLinks: refused by the API server or Stalled by the operator', function () {
  this.timeout(300_000);
  let env: TestEnv;
  let op: OperatorProcess;

  before(async () => {
    env = await testEnv();
    op = await startOperator(env.cluster);
  });
  after(async () => {
    await op?.stop();
  });

  it(`refuses each of the ${INVALID_SPECS.length} invalid specs, naming the field`, async () => {
    expect(INVALID_SPECS.length).to.be.at.least(40);
    const refusedByServer: string[] = [];
    const stalledByOperator: string[] = [];
    for (const [i, c] of INVALID_SPECS.entries()) {
      const name = `invalid-${i}`;
      const manifest = JSON.stringify({ apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', metadata: { name }, spec: c.spec });
      const err = await env.cluster.kubectl(['create', '--validate=false', '-f', '-'], manifest).then(
        () => undefined,
        (e: { stderr?: string }) => e.stderr ?? String(e),
      );
      if (err !== undefined) {
        expect(err, `${c.story}: the API server's message names ${c.field}`).to.include(c.field.replace(/\[\d+\]$/, '').split('[')[0]);
        refusedByServer.push(c.story);
        continue;
      }
      const link = await eventually(
        `${c.story}: Stalled`,
        async () => {
          const l = await getJson(env.cluster, 'gitlabfluxlink', name);
          return condition(l, 'Stalled')?.status === 'True' ? l : undefined;
        },
        30_000,
      );
      expect(condition(link, 'Ready')?.status, c.story).to.equal('False');
      expect(condition(link, 'Ready')?.message, `${c.story}: the condition names ${c.field}`).to.include(c.field.split('[')[0]);
      const made = await getJson(env.cluster, 'receivers', '-A', '-l', `fluxlink.dev/link=${name}`);
      expect(made.items, `${c.story}: nothing created`).to.have.length(0);
      await env.cluster.kubectl(['delete', 'gitlabfluxlink', name, '--wait=true', '--timeout=30s']);
      stalledByOperator.push(c.story);
    }
    console.log(
      `      ${refusedByServer.length} refused by the API server, ${stalledByOperator.length} stored and Stalled by the operator`,
    );
    if (stalledByOperator.length) console.log(`      stalled by the operator: ${stalledByOperator.join('; ')}`);
  });
});
