/**
 * One HTTPS endpoint per simulated cluster, as EKS gives every cluster its own API server
 * address: `https://<host>:<port>` with no path prefix, so kubectl, client-go and
 * @kubernetes/client-node reach `/api`, `/version` and `/healthz` where they expect them.
 *
 * A port is bound the first time the cluster's endpoint is asked for (DescribeCluster, or
 * `sim.kubernetesEndpoint`) and kept until the simulator stops, so the endpoint stays stable
 * across calls and resets. A fleet of 5,000 clusters costs listening sockets only for the clusters
 * a client looked at. Each port is a bare TCP listener that hands its connections to one shared
 * HTTPS server (one certificate, one TLS context, one request handler); the cluster is the one
 * that owns the port the connection arrived on.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { SimulatorTls } from './tls';

export type KubernetesHandler = (cluster: string, req: IncomingMessage, res: ServerResponse) => void;

export class KubernetesEndpoints {
  private readonly https: HttpsServer;
  private readonly listeners = new Map<string, { server: NetServer; url: string }>();
  private readonly opening = new Map<string, Promise<string>>();
  /** Cluster by the local port its connections arrive on. */
  private readonly byPort = new Map<number, string>();
  private readonly sockets = new Set<Socket>();

  /**
   * @param listenHost address the per-cluster ports bind to
   * @param advertiseHost host name clients use in the endpoint URL (in the certificate too)
   */
  constructor(
    private readonly listenHost: string,
    private readonly advertiseHost: string,
    readonly tls: SimulatorTls,
    handler: KubernetesHandler,
  ) {
    this.https = createHttpsServer({ key: tls.key, cert: tls.cert, keepAliveTimeout: 5_000 }, (req, res) => {
      const cluster = this.byPort.get(req.socket.localPort ?? -1);
      if (cluster === undefined) {
        res.destroy();
        return;
      }
      handler(cluster, req, res);
    });
  }

  /** The endpoint of a cluster whose port is open, else undefined. */
  endpointOf(cluster: string): string | undefined {
    return this.listeners.get(cluster)?.url;
  }

  /** The cluster's endpoint, binding its port the first time. */
  open(cluster: string): Promise<string> {
    const known = this.listeners.get(cluster);
    if (known) return Promise.resolve(known.url);
    let pending = this.opening.get(cluster);
    if (!pending) {
      pending = this.bind(cluster).finally(() => this.opening.delete(cluster));
      this.opening.set(cluster, pending);
    }
    return pending;
  }

  private async bind(cluster: string): Promise<string> {
    const server = createNetServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.https.emit('connection', socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const host = this.advertiseHost.includes(':') ? `[${this.advertiseHost}]` : this.advertiseHost;
    const url = `https://${host}:${port}`;
    this.byPort.set(port, cluster);
    this.listeners.set(cluster, { server, url });
    return url;
  }

  /** Open endpoints (the per-cluster listening sockets). */
  get size(): number {
    return this.listeners.size;
  }

  /** Closes every port and connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(
      [...this.listeners.values()].map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    this.listeners.clear();
    this.byPort.clear();
  }
}
