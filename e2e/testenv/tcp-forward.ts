import net from 'node:net';

/**
 * `node tcp-forward.js <listenHost>:<port> <targetHost>:<port>`: a plain TCP forwarder, run inside a test
 * host's network namespace (e2e/testenv/test-host.ts). It exits when its parent test run kills it.
 */
const [listen, target] = process.argv.slice(2);
const split = (s: string) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};
const from = split(listen);
const to = split(target);
net
  .createServer((client) => {
    const upstream = net.connect(to.port, to.host);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  })
  .listen(from.port, from.host, () => console.log(`forwarding ${listen} -> ${target}`));
