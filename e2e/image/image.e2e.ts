import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { testEnv } from '../hooks.js';
import { containerPrefix, type OperatorProcess, startOperator } from '../support/operator.js';
import { docker, dockerCli, IMAGE_UID, operatorImage, removeContainer } from '../support/operator-container.js';
import { getStatus, sleep } from '../testenv/probe.js';

/**
 * The operator's image, run by the harness as the Deployment runs it (`make test-image`; the push, operate and
 * proxy-paths suites run against the same image after this one): what the image is made of and how it runs,
 * seen from outside the container — the image's configuration, the kernel's view of the process, the files of
 * the image, and its output.
 */
describe('the operator image: non-root, read-only root filesystem, nothing but node and the operator, JSON logs', function () {
  this.timeout(180_000);
  let image: string;
  let op: OperatorProcess;
  let container: string;

  before(async () => {
    const name = operatorImage();
    if (!name)
      throw new Error('this suite checks the operator image: run it with E2E_OPERATOR_IMAGE=<image> (make test-image builds one and does)');
    image = name;
    op = await startOperator((await testEnv()).cluster);
    container = op.container!;
  });

  after(async () => {
    await op?.stop();
  });

  it("the image's own configuration: user 65532:65532, node as the entry point, NODE_ENV=production, ports 8080 and 8081", () => {
    const config = JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config}}', image])) as {
      User: string;
      Entrypoint: string[];
      Env: string[];
      ExposedPorts: Record<string, unknown>;
    };
    expect(config.User).to.equal(`${IMAGE_UID}:${IMAGE_UID}`);
    expect(config.Entrypoint).to.deep.equal(['/usr/local/bin/node', 'dist/operator/main.js']);
    expect(config.Env).to.include('NODE_ENV=production');
    expect(Object.keys(config.ExposedPorts).sort()).to.deep.equal(['8080/tcp', '8081/tcp']);
  });

  it('the running operator is uid and gid 65532, holds no capability (bounding set empty) and cannot gain privileges', () => {
    const pid = docker(['inspect', '--format', '{{.State.Pid}}', container]).trim();
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1].trim();
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).to.deep.equal([
      '/usr/local/bin/node',
      'dist/operator/main.js',
    ]);
    expect(field('Uid')?.split(/\s+/), 'real, effective, saved and filesystem uid').to.deep.equal(Array(4).fill(String(IMAGE_UID)));
    expect(field('Gid')?.split(/\s+/), 'real, effective, saved and filesystem gid').to.deep.equal(Array(4).fill(String(IMAGE_UID)));
    // The engine adds the primary group to the supplementary ones; nothing else may be there.
    expect(field('Groups')?.split(/\s+/).filter(Boolean), 'supplementary groups').to.satisfy((groups: string[]) =>
      groups.every((g) => g === String(IMAGE_UID)),
    );
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(field(set), set).to.equal('0000000000000000');
    expect(field('NoNewPrivs')).to.equal('1');
  });

  it('its root filesystem is read-only: the mount says ro, and a write anywhere in it fails with EROFS', () => {
    const pid = docker(['inspect', '--format', '{{.State.Pid}}', container]).trim();
    // mountinfo: "<id> <parent> <major:minor> <root> <mount point> <options> ..."
    const root = fs
      .readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .find((fields) => fields[4] === '/');
    expect(root?.[5]?.split(','), "the root mount's options").to.include('ro');
    const probe = `const fs = require('fs'); const codes = {};
      for (const p of ['/probe', '/app/probe', '/app/dist/operator/probe', '/app/node_modules/probe', '/usr/local/bin/probe', '/etc/probe', '/tmp']) {
        try { p === '/tmp' ? fs.mkdirSync(p) : fs.writeFileSync(p, 'x'); codes[p] = 'written'; } catch (e) { codes[p] = e.code; }
      }
      console.log(JSON.stringify(codes));`;
    const codes = JSON.parse(docker(['exec', container, '/usr/local/bin/node', '-e', probe])) as Record<string, string>;
    expect(Object.keys(codes)).to.have.length(7);
    for (const [p, code] of Object.entries(codes)) expect(code, p).to.equal('EROFS');
  });

  it('the image holds node, the libraries it loads and the operator: no shell, no npm, npx or corepack, no npm configuration or CA bundle', () => {
    // A container created (never started) from the image: its files are the image's, with the few the engine adds.
    const listed = `${containerPrefix()}files`;
    docker(['create', '--name', listed, image]);
    let files: string[];
    try {
      const tar = spawnSync('bash', ['-c', `set -o pipefail; "$0" export "$1" | tar -t`, dockerCli(), listed], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      if (tar.status !== 0) throw new Error(`docker export ${listed} | tar -t: ${tar.stderr}`);
      files = tar.stdout.split('\n').filter(Boolean);
    } finally {
      removeContainer(listed);
    }
    const engineAdds = /^(\.dockerenv|etc\/(hostname|hosts|mtab|resolv\.conf)|dev\/.*|proc\/|sys\/)$/;
    const outsideApp = files.filter((f) => !f.startsWith('app/') && !engineAdds.test(f));
    expect(outsideApp.filter((f) => !f.endsWith('/')).sort()).to.deep.equal([
      'etc/group',
      'etc/nsswitch.conf',
      'etc/passwd',
      'lib/x86_64-linux-gnu/libc.so.6',
      'lib/x86_64-linux-gnu/libdl.so.2',
      'lib/x86_64-linux-gnu/libgcc_s.so.1',
      'lib/x86_64-linux-gnu/libm.so.6',
      'lib/x86_64-linux-gnu/libpthread.so.0',
      'lib/x86_64-linux-gnu/libstdc++.so.6',
      'lib64/ld-linux-x86-64.so.2',
      'usr/local/bin/node',
    ]);
    const app = files.filter((f) => f.startsWith('app/') && !f.endsWith('/'));
    expect(app.filter((f) => !/^app\/(dist\/operator|node_modules)\//.test(f)).sort()).to.deep.equal(['app/LICENSE', 'app/package.json']);
    expect(
      app.filter((f) => /^app\/dist\/operator\/(.*\.test\.js|testing\/.*)$/.test(f)),
      'unit tests and fakes',
    ).to.deep.equal([]);
    expect(
      app.filter((f) => /^app\/node_modules\/(mocha|chai|typescript|eslint|prettier)\//.test(f)),
      'dev dependencies',
    ).to.deep.equal([]);
    expect(files.filter((f) => /(^|\/)(npm|npx|corepack)(\/|$)|(^|\/)\.?npmrc$|\.(pem|crt)$|ca-certificates/.test(f))).to.deep.equal([]);
    // The build's secrets were mounted for `npm ci` in the build stages only: no trace in the image's history.
    const history = docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]);
    expect(history).to.not.match(/BEGIN CERTIFICATE|registry=|cafile=/);
  });

  it('every line it writes is one JSON object with level, message and timestamp; SIGTERM stops it with exit code 0', async () => {
    expect((await getStatus(`${op.metricsURL}/readyz`)).status).to.equal(200);
    expect((await getStatus(`${op.hooksURL}/hooks/no-such-link`)).status).to.be.within(400, 499);
    await sleep(500);
    const logs = spawnSync(dockerCli(), ['logs', container], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(logs.status).to.equal(0);
    const messages = jsonLines(`${logs.stdout}\n${logs.stderr}`);
    expect(messages, "the container's output (docker logs)").to.include.members(['operator started', 'leading: reconciling']);
    op.proc.child.kill('SIGTERM');
    const code = await Promise.race([op.proc.exited, sleep(40_000).then(() => 'still running')]);
    expect(code, 'exit code of the container after SIGTERM').to.equal(0);
    // The harness's log file: the same lines through the client, which adds none of its own.
    expect(jsonLines(fs.readFileSync(op.logFile, 'utf8')).slice(-2)).to.deep.equal(['shutting down', 'stopped']);
  });
});

/** The messages of a log in which every non-empty line must be one JSON object with level, message and timestamp. */
function jsonLines(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
      expect(entry, line).to.include.keys('level', 'message', 'timestamp');
      return String(entry.message);
    });
}
