import { expect } from 'chai';

import { chooseDockerClient } from './docker.js';

describe('which Docker client the e2e harness runs', () => {
  const only =
    (...files: string[]) =>
    (file: string) =>
      files.includes(file);

  it('takes $DOCKER as it is, whatever else is installed', () => {
    expect(
      chooseDockerClient('/opt/docker/bin/docker', '/usr/local/bin:/usr/bin', only('/usr/local/bin/docker', '/usr/bin/docker')),
    ).to.equal('/opt/docker/bin/docker');
  });

  it('else takes the first docker on PATH, in PATH order, even one that is not at /usr/bin', () => {
    const both = only('/usr/local/bin/docker', '/usr/bin/docker');
    expect(chooseDockerClient(undefined, '/usr/local/bin:/usr/bin', both)).to.equal('/usr/local/bin/docker');
    expect(chooseDockerClient(undefined, '/usr/bin:/usr/local/bin', both)).to.equal('/usr/bin/docker');
    expect(chooseDockerClient('', '/home/me/bin::/usr/bin', only('/home/me/bin/docker'))).to.equal('/home/me/bin/docker');
  });

  it("else falls back to Debian's /usr/bin/docker when PATH has none", () => {
    expect(chooseDockerClient(undefined, '/sbin', only('/usr/bin/docker'))).to.equal('/usr/bin/docker');
    expect(chooseDockerClient(undefined, undefined, only('/usr/bin/docker'))).to.equal('/usr/bin/docker');
  });

  it('names plain `docker` when there is no client at all, so that the first command fails saying so', () => {
    expect(chooseDockerClient(undefined, '/usr/local/bin:/usr/bin', only())).to.equal('docker');
  });
});
