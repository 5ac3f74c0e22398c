import { expect } from 'chai';
import { CONTAINER_KUBECONFIG, dockerRunArgs, operatorImage } from './operator-container.js';

describe('the operator run from its image (E2E_OPERATOR_IMAGE)', () => {
  const run = {
    image: 'gitlab-flux-link:dev',
    name: 'gfl-e2e-1',
    kubeconfig: '/work/op.kubeconfig',
    env: { WEBHOOK_PORT: '41001', LOG_LEVEL: 'debug' },
  };
  const flag = (args: string[], name: string) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []));

  it("runs as the Deployment's securityContext: user 65532, read-only root, no capability, no privilege escalation, never pulled", () => {
    const args = dockerRunArgs(run);
    expect(args.slice(0, 2)).to.deep.equal(['run', '--rm']);
    expect(args).to.include('--read-only');
    expect(flag(args, '--user')).to.deep.equal(['65532:65532']);
    expect(flag(args, '--cap-drop')).to.deep.equal(['ALL']);
    expect(flag(args, '--security-opt')).to.deep.equal(['no-new-privileges']);
    expect(flag(args, '--pull')).to.deep.equal(['never']);
    expect(flag(args, '--network')).to.deep.equal(['host']);
    expect(flag(args, '--name')).to.deep.equal(['gfl-e2e-1']);
  });

  it('mounts the kubeconfig read-only and passes exactly the given environment, KUBECONFIG pointing at the mount', () => {
    const args = dockerRunArgs(run);
    expect(flag(args, '--volume')).to.deep.equal([`/work/op.kubeconfig:${CONTAINER_KUBECONFIG}:ro`]);
    expect(flag(args, '--env')).to.deep.equal(['WEBHOOK_PORT=41001', 'LOG_LEVEL=debug', `KUBECONFIG=${CONTAINER_KUBECONFIG}`]);
    expect(args.at(-1), 'the image, with its own entry point').to.equal('gitlab-flux-link:dev');
  });

  it("node arguments: node becomes the entry point, the image's script after them", () => {
    const args = dockerRunArgs({ ...run, nodeArgs: ['--cpu-prof'] });
    expect(args.slice(-5)).to.deep.equal([
      '--entrypoint',
      '/usr/local/bin/node',
      'gitlab-flux-link:dev',
      '--cpu-prof',
      'dist/operator/main.js',
    ]);
  });

  it('refuses an image and another build at once', () => {
    const saved = { image: process.env.E2E_OPERATOR_IMAGE, main: process.env.E2E_OPERATOR_MAIN };
    try {
      process.env.E2E_OPERATOR_IMAGE = 'gitlab-flux-link:dev';
      process.env.E2E_OPERATOR_MAIN = '/elsewhere/dist/operator/main.js';
      expect(() => operatorImage()).to.throw(/both set/);
      delete process.env.E2E_OPERATOR_MAIN;
      expect(operatorImage()).to.equal('gitlab-flux-link:dev');
    } finally {
      for (const [key, value] of [
        ['E2E_OPERATOR_IMAGE', saved.image],
        ['E2E_OPERATOR_MAIN', saved.main],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
