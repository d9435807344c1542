/** Ports for servers the tests start, and for addresses where nothing listens. */
import { createServer, type AddressInfo } from 'node:net';

/** A free TCP port on 127.0.0.1: one a probe server just held and closed. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
