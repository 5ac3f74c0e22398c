import net from 'node:net';

/**
 * Free loopback ports. Every component gets its own: the Flux controllers' defaults (:8080, :9440, :9090)
 * collide with each other. Ports handed out in this process are remembered so two calls never return the
 * same one, even before anything has bound it.
 */
const handedOut = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, host, () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port found after 50 attempts');
}
