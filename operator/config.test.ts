import { expect } from 'chai';
import { loadConfig } from './config.js';

describe('config', () => {
  it('defaults: leader election on, controller-runtime lease timings, lease in the operator namespace', () => {
    const c = loadConfig({ POD_NAME: 'gfl-abc' });
    expect(c.leaderElection).to.deep.include({
      namespace: 'gitlab-flux-link-system',
      name: 'gitlab-flux-link-leader',
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
    });
    expect(c.leaderElection?.identity).to.match(/^gfl-abc_[0-9a-f]{8}$/);
    expect(loadConfig({ POD_NAME: 'gfl-abc' }).leaderElection?.identity).to.not.equal(
      c.leaderElection?.identity,
      'each process has its own identity',
    );
  });

  it('takes the namespace from LEASE_NAMESPACE, then POD_NAMESPACE', () => {
    expect(loadConfig({ POD_NAMESPACE: 'ops' }).leaderElection?.namespace).to.equal('ops');
    expect(loadConfig({ POD_NAMESPACE: 'ops', LEASE_NAMESPACE: 'elect' }).leaderElection?.namespace).to.equal('elect');
  });

  it('turns leader election off with LEADER_ELECT=false', () => {
    expect(loadConfig({ LEADER_ELECT: 'false' }).leaderElection).to.equal(undefined);
  });

  it('webhook limits: defaults, overrides, and at least 1', () => {
    expect(loadConfig({})).to.include({ httpMaxConnections: 1_024, webhookMaxBodyReads: 16, webhookDeliveriesRemembered: 100_000 });
    expect(loadConfig({ HTTP_MAX_CONNECTIONS: '64', WEBHOOK_MAX_BODY_READS: '4', WEBHOOK_DELIVERIES_REMEMBERED: '1000' })).to.include({
      httpMaxConnections: 64,
      webhookMaxBodyReads: 4,
      webhookDeliveriesRemembered: 1000,
    });
    for (const name of ['HTTP_MAX_CONNECTIONS', 'WEBHOOK_MAX_BODY_READS', 'WEBHOOK_DELIVERIES_REMEMBERED'])
      expect(() => loadConfig({ [name]: '0' })).to.throw(new RegExp(`${name} must be at least 1`));
  });

  it('GitLab hooks resync: 300 s by default, at least 1', () => {
    expect(loadConfig({}).gitlabHooksResyncSeconds).to.equal(300);
    expect(loadConfig({ GITLAB_HOOKS_RESYNC_SECONDS: '5' }).gitlabHooksResyncSeconds).to.equal(5);
    expect(() => loadConfig({ GITLAB_HOOKS_RESYNC_SECONDS: '0' })).to.throw(/GITLAB_HOOKS_RESYNC_SECONDS must be at least 1/);
  });

  it('ports: webhooks on 8080 (WEBHOOK_PORT, or HTTP_PORT, its former name), /metrics and the probes on 8081 (METRICS_PORT)', () => {
    expect(loadConfig({})).to.include({ webhookPort: 8080, metricsPort: 8081 });
    expect(loadConfig({ WEBHOOK_PORT: '9000', METRICS_PORT: '9001' })).to.include({ webhookPort: 9000, metricsPort: 9001 });
    expect(loadConfig({ HTTP_PORT: '9000' })).to.include({ webhookPort: 9000, metricsPort: 8081 });
    expect(loadConfig({ HTTP_PORT: '9000', WEBHOOK_PORT: '9000' })).to.include({ webhookPort: 9000 });
    expect(() => loadConfig({ HTTP_PORT: '9000', WEBHOOK_PORT: '9100' })).to.throw(
      /WEBHOOK_PORT \(9100\) and HTTP_PORT \(9000, its former name\) disagree/,
    );
    expect(() => loadConfig({ WEBHOOK_PORT: '8081' })).to.throw(/WEBHOOK_PORT and METRICS_PORT must differ \(both 8081\)/);
    // 0 asks the system for a free port (tests): each listener gets its own.
    expect(loadConfig({ WEBHOOK_PORT: '0', METRICS_PORT: '0' })).to.include({ webhookPort: 0, metricsPort: 0 });
  });

  it('refuses bad values, naming the variable', () => {
    expect(() => loadConfig({ LEADER_ELECT: 'yes' })).to.throw(/LEADER_ELECT must be true or false/);
    expect(() => loadConfig({ LEASE_RENEW_DEADLINE_SECONDS: '20' })).to.throw(
      /LEASE_RENEW_DEADLINE_SECONDS must be less than LEASE_DURATION_SECONDS/,
    );
    expect(() => loadConfig({ LEASE_RETRY_PERIOD_SECONDS: '0' })).to.throw(/LEASE_RETRY_PERIOD_SECONDS/);
    expect(() => loadConfig({ WORKERS: '-1' })).to.throw(/WORKERS must be a non-negative integer/);
  });
});
