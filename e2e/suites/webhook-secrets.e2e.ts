import { expect } from 'chai';
import { testEnv } from '../hooks.js';
import { post } from '../support/http.js';
import { apply, condition, eventually, getJson } from '../support/kube.js';
import { linkManifest, webhookSecretManifest } from '../support/manifests.js';
import { OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';

/**
 * A weak webhook token on the real test ground: the link says so on its status (WebhookSecretReady, naming
 * the field, the Secret and its key, never the value), every webhook is answered 503, and once the Secret
 * holds a long enough token both clear without touching the link (the link is looked at again every 30 s).
 */
describe('weak webhook Secrets: stated on the link, webhooks refused until fixed', function () {
  this.timeout(180_000);
  const WEAK = 'tiny-token'; // 10 characters
  const STRONG = 'webhook-secrets-e2e-token-0123456789';
  const SECRET = 'weak-webhook';
  let env: TestEnv;
  let op: OperatorProcess;

  before(async () => {
    env = await testEnv();
    op = await startOperator(env.cluster);
  });
  after(async () => {
    await env?.cluster.kubectl(['delete', 'gitlabfluxlink', 'weak-secret', '--ignore-not-found', '--wait=true']).catch(() => undefined);
    await op?.stop();
  });

  it('a token under 16 characters: WebhookSecretReady=False WeakWebhookSecret, Ready False, webhooks 503; a longer token clears both', async () => {
    await apply(env.cluster, [webhookSecretManifest(SECRET, WEAK)]);
    await apply(env.cluster, [
      linkManifest(env, 'weak-secret', { label: { 'e2e.fluxlink.dev/weak-secret': 'none' }, projects: ['weak/**'], webhookSecret: SECRET }),
    ]);

    const weak = await eventually(
      'WebhookSecretReady False',
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', 'weak-secret');
        return condition(l, 'WebhookSecretReady')?.status === 'False' && l;
      },
      60_000,
    );
    expect(condition(weak, 'WebhookSecretReady')).to.deep.include({
      reason: 'WeakWebhookSecret',
      message: `spec.webhook.secretRef (Secret ${OPERATOR_NAMESPACE}/${SECRET}, key token) is not acceptable: shorter than 16 characters`,
    });
    expect(condition(weak, 'Ready')).to.deep.include({ status: 'False', reason: 'WeakWebhookSecret' });
    expect(JSON.stringify(weak.status)).to.not.include(WEAK);

    const push = JSON.stringify({
      object_kind: 'push',
      ref: 'refs/heads/main',
      after: '1'.repeat(40),
      project: { path_with_namespace: 'weak/app' },
    });
    expect(await post(`${op.hooksURL}/hooks/weak-secret`, push, { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': WEAK })).to.equal(503);

    await apply(env.cluster, [webhookSecretManifest(SECRET, STRONG)]);
    const fixed = await eventually(
      'WebhookSecretReady gone and Ready True',
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', 'weak-secret');
        return condition(l, 'WebhookSecretReady') === undefined && condition(l, 'Ready')?.status === 'True' && l;
      },
      90_000,
    );
    expect(condition(fixed, 'Ready')?.reason).to.equal('Succeeded');
    // The webhook's reader keeps a value at most 10 s. Authenticated, the push is answered 200: no GitRepository of
    // the link follows weak/app (its namespace selector matches none), which the route says before anything else.
    await eventually(
      'webhook accepted with the new token',
      async () =>
        (await post(`${op.hooksURL}/hooks/weak-secret`, push, { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': STRONG })) === 200,
      30_000,
      500,
    );
  });
});
