import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The control plane's PKI, made with Debian's openssl: a CA, the API server's serving certificate (localhost,
 * 127.0.0.1), an admin client certificate (O=system:masters) and the service-account signing key pair.
 */
export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createPki(dir: string): Pki {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  const days = '30';
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      days,
      '-subj',
      '/CN=gitlab-flux-link-testenv-ca',
    ],
    dir,
  );

  const sign = (name: string, subject: string, ext: string) => {
    fs.writeFileSync(p(`${name}.ext`), ext);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        days,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  };
  sign(
    'apiserver',
    '/CN=kube-apiserver',
    'subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.0.0.1\n' +
      'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  sign('admin', '/O=system:masters/CN=testenv-admin', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');

  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

/** A kubeconfig for a client certificate or a bearer token, written with all data inline. */
export function kubeconfigYaml(opts: {
  server: string;
  caCert: string;
  user: string;
  clientCert?: string;
  clientKey?: string;
  token?: string;
}): string {
  const b64 = (file: string) => fs.readFileSync(file).toString('base64');
  const userLines = opts.token
    ? [`    token: ${opts.token}`]
    : [`    client-certificate-data: ${b64(opts.clientCert!)}`, `    client-key-data: ${b64(opts.clientKey!)}`];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: testenv',
    '  cluster:',
    `    server: ${opts.server}`,
    `    certificate-authority-data: ${b64(opts.caCert)}`,
    'users:',
    `- name: ${opts.user}`,
    '  user:',
    ...userLines,
    'contexts:',
    `- name: ${opts.user}@testenv`,
    '  context:',
    '    cluster: testenv',
    `    user: ${opts.user}`,
    `current-context: ${opts.user}@testenv`,
    '',
  ].join('\n');
}
