// Several nodes for the browser tests: a real `nats-server`, two `parley-server`
// nodes over one database, and HAProxy in front on one URL, as `cargo xtask cluster`
// runs them. Each browser context can be pinned to a node with HAProxy's server cookie
// (`pinTo`); once its node stops, HAProxy sends it to another one.
//   PARLEY_NATS_SERVER  nats-server binary (default: nats-server on the PATH)
//   PARLEY_HAPROXY      haproxy binary     (default: haproxy on the PATH)
import type { BrowserContext } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import * as path from 'node:path';

/** A TCP port free right now on 127.0.0.1. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`. */
export async function listening(port: number, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${what} is not listening on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A helper process, stopped with SIGTERM (SIGKILL after a grace period). */
export class Helper {
  private constructor(private readonly child: ChildProcess) {}

  static async start(bin: string, args: string[], port: number, what: string): Promise<Helper> {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      output = (output + chunk).slice(-4000);
    });
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new Error(`could not start ${bin}: ${err.message}`)));
      child.once('exit', (code) => reject(new Error(`${what} exited (${code}):\n${output}`)));
    });
    failed.catch(() => {});
    await Promise.race([listening(port, what), failed]);
    return new Helper(child);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }
}

/** HAProxy's cookie naming the node a browser is pinned to. */
const NODE_COOKIE = 'PARLEY_NODE';

/** HAProxy in front of `nodes` (URLs), as `cargo xtask cluster` configures it, plus the server cookie. */
export function haproxyConfig(port: number, nodes: string[]): string {
  const servers = nodes
    .map((url, i) => `    server node${i} ${new URL(url).host} cookie node${i}`)
    .join('\n');
  return `global
    # No maxconn: HAProxy sizes it from the open-file limit.

defaults
    mode http
    option forwardfor
    timeout connect 2s
    timeout client 90s
    timeout server 90s
    timeout tunnel 1h
    timeout client-fin 5s
    retries 2
    option redispatch

frontend parley
    bind 127.0.0.1:${port}
    default_backend nodes

backend nodes
    balance leastconn
    cookie ${NODE_COOKIE} insert indirect nocache
    option httpchk GET /healthz
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
${servers}
`;
}

/** Starts HAProxy on `port` in front of `nodes`; its config goes to `dir`. */
export async function startHaproxy(port: number, nodes: string[], dir: string): Promise<Helper> {
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, `haproxy-${port}.cfg`);
  writeFileSync(config, haproxyConfig(port, nodes));
  return Helper.start(process.env.PARLEY_HAPROXY ?? 'haproxy', ['-f', config, '-db'], port, 'haproxy');
}

/** Starts `nats-server` on a free port. */
export async function startNats(): Promise<{ nats: Helper; url: string }> {
  const port = await freeTcpPort();
  const nats = await Helper.start(
    process.env.PARLEY_NATS_SERVER ?? 'nats-server',
    ['-a', '127.0.0.1', '-p', String(port)],
    port,
    'nats-server',
  );
  return { nats, url: `nats://127.0.0.1:${port}` };
}

/** Pins a browser context to node `index` (until that node is down). */
export async function pinTo(context: BrowserContext, url: string, index: number): Promise<void> {
  await context.addCookies([{ name: NODE_COOKIE, value: `node${index}`, url }]);
}
