import net from 'node:net';

/**
 * A TCP proxy on a fixed loopback port in front of another address, that can be cut: `cut()`
 * stops listening (new connections are refused) and destroys every open connection, as a
 * database restart or a network partition would; `restore()` listens again on the same port.
 */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far (to see that clients reconnected after a cut). */
  accepted(): number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let accepted = 0;
  let server: net.Server | undefined;
  let boundPort = port;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        accepted += 1;
        const upstream = net.connect(target.port, target.host);
        open.add(client);
        open.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          open.delete(client);
          open.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(boundPort, '127.0.0.1', () => {
        boundPort = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const stop = async () => {
    const s = server;
    server = undefined;
    for (const socket of open) socket.destroy();
    open.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return boundPort;
    },
    accepted: () => accepted,
    cut: stop,
    restore: listen,
    close: stop,
  };
}
