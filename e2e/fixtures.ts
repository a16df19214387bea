// Playwright fixtures and helpers for Parley's end-to-end tests.
//
// `server` (worker-scoped) and `ownServer` (test-scoped, for tests that stop it) run the
// real `parley-server` binary against a database of their own on the PostgreSQL cluster
// `cargo xtask test` starts. Environment:
//   PARLEY_SERVER_BIN  server binary          (default: ../target/debug/parley-server)
//   PARLEY_DIST        Trunk output to serve  (default: ../dist)
//   PARLEY_PG_URL      postgres://USER@HOST:PORT, without a database (required)
//   PARLEY_E2E_SERVER_LOG=1  also echo server logs to the terminal
// Server logs are kept in e2e/output/server-logs/<database>.log.

import {
  test as base,
  expect,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from '@playwright/test';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createWriteStream, existsSync, mkdirSync, readdirSync, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import { startHaproxy, startNats, freeTcpPort } from './cluster';
import { PushService } from './push';

export { expect };

const E2E_DIR = __dirname;
const ROOT = path.resolve(E2E_DIR, '..');
export const OUTPUT_DIR = path.join(E2E_DIR, 'output');
const SCREENSHOT_DIR = path.join(OUTPUT_DIR, 'screenshots');
const LOG_DIR = path.join(OUTPUT_DIR, 'server-logs');

const START_TIMEOUT_MS = 45_000;
const STOP_GRACE_MS = 10_000;
const POLL_MS = 100;
const LISTENING = /parley-server listening on (http:\/\/\S+)/;

function serverBin(): string {
  return process.env.PARLEY_SERVER_BIN ?? path.join(ROOT, 'target', 'debug', 'parley-server');
}

function distDir(): string {
  return process.env.PARLEY_DIST ?? path.join(ROOT, 'dist');
}

function pgUrl(): string {
  const url = process.env.PARLEY_PG_URL;
  if (!url) {
    throw new Error(
      'PARLEY_PG_URL is not set: run the suite with `cargo xtask test`, or set it to postgres://USER@HOST:PORT',
    );
  }
  return url.replace(/\/+$/, '');
}

/** A short pause between two checks of a condition (never a wait for its own sake). */
function tick(ms = POLL_MS): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function randomBase36(bytes: number): string {
  return BigInt(`0x${randomBytes(bytes).toString('hex')}`).toString(36);
}

/** A UDP port free right now (for the server's STUN/TURN relay). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** A database name no other test uses: lowercase letters, digits and `_`. */
function databaseName(tag: string): string {
  return `e2e_${tag}_${Date.now().toString(36)}_${randomBase36(4)}`.toLowerCase();
}

/** A running (or stopped) `parley-server`. */
export interface ParleyServer {
  /** `http://127.0.0.1:PORT`, the same across stop()/start(). */
  readonly url: string;
  /** Its own database on the test cluster. */
  readonly database: string;
  /** Where it keeps attachments' encrypted chunks. */
  readonly blobDir: string;
  /** Sends SIGINT and waits until the process has exited (SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** Starts it again on the same port and database; resolves once /healthz answers 200. */
  start(): Promise<void>;
}

export class ServerProcess implements ParleyServer {
  url = '';
  private port = 0;
  /** UDP port of the server's STUN/TURN relay, kept across restarts. */
  private turnPort = 0;
  private child: ChildProcess | undefined;
  private readonly log: WriteStream;
  private recent: string[] = [];
  /** Where the server keeps attachments' encrypted chunks (kept across restarts). */
  readonly blobDir: string;

  constructor(
    readonly database: string,
    /** Extra environment for the server (settings a test needs). */
    private readonly env: Record<string, string> = {},
  ) {
    mkdirSync(LOG_DIR, { recursive: true });
    this.log = createWriteStream(path.join(LOG_DIR, `${database}.log`), { flags: 'a' });
    this.blobDir = path.join(E2E_DIR, 'output', 'blobs', database);
  }

  async start(): Promise<void> {
    if (this.child) throw new Error('parley-server is already running');
    if (this.turnPort === 0) this.turnPort = await freeUdpPort();
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await this.spawnUntilListening(deadline);
        break;
      } catch (err) {
        // On a restart the old port can stay busy for a moment: retry until the deadline.
        const busy = /in use|os error 98|AddrInUse/i.test(String(err));
        if (this.port === 0 || !busy || Date.now() > deadline) throw err;
        await tick(250);
      }
    }
    await this.waitHealthy(deadline);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill('SIGINT');
    const killer = setTimeout(() => {
      this.note(`[e2e] parley-server still running ${STOP_GRACE_MS} ms after SIGINT: SIGKILL`);
      child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await exited;
    clearTimeout(killer);
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }

  private note(text: string): void {
    this.log.write(text.endsWith('\n') ? text : `${text}\n`);
    if (process.env.PARLEY_E2E_SERVER_LOG) process.stderr.write(text);
    this.recent.push(...text.split('\n').filter((l) => l.length > 0));
    if (this.recent.length > 40) this.recent = this.recent.slice(-40);
  }

  private spawnUntilListening(deadline: number): Promise<void> {
    const args = [
      '--bind',
      `127.0.0.1:${this.port}`,
      '--database-url',
      `${pgUrl()}/${this.database}`,
      '--create-database',
      '--static-dir',
      distDir(),
      // The built-in STUN/TURN relay, as `cargo xtask run` has it.
      '--turn-port',
      String(this.turnPort),
      '--blob-store',
      this.blobDir,
    ];
    this.recent = [];
    const child = spawn(serverBin(), args, {
      env: {
        ...process.env,
        PARLEY_AUTH_IP_PER_MINUTE: '10000',
        PARLEY_AUTH_HANDLE_PER_MINUTE: '10000',
        ...this.env,
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });

    return new Promise<void>((resolve, reject) => {
      let stdout = '';
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`${message}\n--- last server output ---\n${this.recent.join('\n')}`));
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(`parley-server did not print its listening line within ${START_TIMEOUT_MS} ms`);
      }, Math.max(deadline - Date.now(), 1));

      child.once('error', (err) => fail(`could not start ${serverBin()}: ${err.message}`));
      child.once('exit', (code, signal) =>
        fail(`parley-server exited before listening (code ${code}, signal ${signal})`),
      );
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        this.note(chunk);
        if (settled) return;
        stdout += chunk;
        const match = LISTENING.exec(stdout);
        if (match) {
          settled = true;
          clearTimeout(timer);
          this.url = match[1];
          this.port = Number(new URL(this.url).port);
          resolve();
        }
      });
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => this.note(chunk));
    });
  }

  private async waitHealthy(deadline: number): Promise<void> {
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.child) throw new Error(`parley-server exited while starting:\n${this.recent.join('\n')}`);
      try {
        const response = await fetch(`${this.url}/healthz`);
        if (response.status === 200) return;
        last = `HTTP ${response.status}`;
      } catch (err) {
        last = String(err);
      }
      await tick();
    }
    throw new Error(`${this.url}/healthz did not answer 200 in time (last: ${last})`);
  }
}

/**
 * Collects the page's uncaught errors (`pageerror`): a test fails on any. A
 * wasm panic surfaces as "unreachable"; the panic message itself is the
 * console error just before it, so the last few are kept with it.
 */
function watchErrors(page: Page, into: string[]): void {
  const recent: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') recent.push(message.text().slice(0, 500));
    if (recent.length > 3) recent.shift();
  });
  page.on('pageerror', (error) => into.push(`${page.url()}: ${error.message} [console: ${recent.join(' | ')}]`));
}

async function runServer(
  tag: string,
  use: (server: ParleyServer) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const server = new ServerProcess(databaseName(tag), env);
  try {
    await server.start();
    await use(server);
  } finally {
    await server.dispose();
  }
}

type WorkerFixtures = {
  /** A server shared by the tests of one worker. */
  server: ParleyServer;
};

/** Two nodes joined by NATS behind HAProxy, for this test alone. */
export interface ParleyCluster {
  /** HAProxy's URL: the one a browser opens. */
  readonly url: string;
  /** The nodes, each free to be stopped and started. */
  readonly nodes: ParleyServer[];
}

type TestFixtures = {
  /** A server of this test alone, free to be stopped and started. */
  ownServer: ParleyServer;
  /** Two nodes behind HAProxy, for this test alone. */
  cluster: ParleyCluster;
  /** A server of this test alone that sends Web Push to a local push service. */
  pushed: { server: ParleyServer; pushService: PushService };
  /** Opens a page in a new browser context (another person or device), closed after the test. */
  newPage: (options?: BrowserContextOptions) => Promise<Page>;
};

export const test = base.extend<TestFixtures, WorkerFixtures>({
  server: [
    async ({}, use, workerInfo) => {
      await runServer(`w${workerInfo.workerIndex}`, use);
    },
    { scope: 'worker', timeout: 60_000 },
  ],

  ownServer: async ({}, use, testInfo) => {
    await runServer(`t${testInfo.workerIndex}`, use);
  },
  pushed: async ({}, use, testInfo) => {
    const pushService = await PushService.start();
    try {
      await runServer(
        `p${testInfo.workerIndex}`,
        (server) => use({ server, pushService }),
        // The push sender may call this one plain-HTTP origin.
        { PARLEY_PUSH_INSECURE_ORIGINS: pushService.origin },
      );
    } finally {
      await pushService.stop();
    }
  },

  cluster: async ({}, use, testInfo) => {
    const { nats, url: natsUrl } = await startNats();
    const database = databaseName(`c${testInfo.workerIndex}`);
    const env = { PARLEY_NATS_URL: natsUrl, PARLEY_TRUSTED_PROXIES: '127.0.0.1' };
    const nodes = [new ServerProcess(database, env), new ServerProcess(database, env)];
    let haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined;
    try {
      // One after the other: the first creates and migrates the database.
      for (const node of nodes) await node.start();
      const port = await freeTcpPort();
      haproxy = await startHaproxy(
        port,
        nodes.map((n) => n.url),
        path.join(OUTPUT_DIR, 'haproxy'),
      );
      await use({ url: `http://127.0.0.1:${port}`, nodes });
    } finally {
      await haproxy?.stop();
      for (const node of nodes) await node.dispose();
      await nats.stop();
    }
  },

  baseURL: async ({ server }, use) => {
    await use(server.url);
  },

  page: async ({ page }, use) => {
    const errors: string[] = [];
    watchErrors(page, errors);
    page.context().on('page', (more) => watchErrors(more, errors));
    await use(page);
    expect(errors, 'uncaught errors in the page').toEqual([]);
  },

  newPage: async ({ browser, baseURL }, use) => {
    const contexts: BrowserContext[] = [];
    const errors: string[] = [];
    await use(async (options: BrowserContextOptions = {}) => {
      const context = await browser.newContext({ baseURL, ...options });
      contexts.push(context);
      // Every page of the context, also those a test opens later.
      context.on('page', (page) => watchErrors(page, errors));
      return context.newPage();
    });
    for (const context of contexts) await context.close();
    expect(errors, 'uncaught errors in the other pages').toEqual([]);
  },
});

// ---------------------------------------------------------------------------------------
// People and screens

export interface User {
  handle: string;
  name: string;
  password: string;
}

/** A username no other test uses: `u` + random base36, at most 32 characters. */
export function uniqueHandle(prefix = 'u'): string {
  const start = /^[a-z]/.test(prefix) ? prefix : `u${prefix}`;
  return `${start}${randomBase36(8)}`.toLowerCase().slice(0, 32);
}

/** A new person with a unique handle; `name` gets a short suffix so lists can be told apart. */
export function newUser(name: string): User {
  const handle = uniqueHandle();
  return { handle, name: `${name} ${handle.slice(-4)}`, password: 'correct horse battery staple' };
}

/** Saves a full-page screenshot as e2e/output/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Switches the auth screen to the sign-up or the sign-in form. */
export async function showAuthForm(page: Page, form: 'sign-up' | 'sign-in'): Promise<void> {
  await expect(page.getByTestId('auth-screen')).toBeVisible();
  const displayName = page.getByTestId('display-name');
  if (form === 'sign-up') {
    if (!(await displayName.isVisible())) await page.getByTestId('show-sign-up').click();
    await expect(displayName).toBeVisible();
  } else {
    if (await displayName.isVisible()) await page.getByTestId('show-sign-in').click();
    await expect(displayName).toBeHidden();
  }
}

/** Fills and submits the sign-up form (the page shows the auth screen). */
export async function submitSignUp(page: Page, user: User): Promise<void> {
  await showAuthForm(page, 'sign-up');
  await page.getByTestId('handle').fill(user.handle);
  await page.getByTestId('display-name').fill(user.name);
  await page.getByTestId('password').fill(user.password);
  await page.getByTestId('auth-submit').click();
}

/** Fills and submits the sign-in form (the page shows the auth screen). */
export async function submitSignIn(page: Page, user: Pick<User, 'handle' | 'password'>): Promise<void> {
  await showAuthForm(page, 'sign-in');
  await page.getByTestId('handle').fill(user.handle);
  await page.getByTestId('password').fill(user.password);
  await page.getByTestId('auth-submit').click();
}

/** Signs up and waits for the main screen. */
export async function signUp(page: Page, user: User): Promise<void> {
  await submitSignUp(page, user);
  await expect(page.getByTestId('main-screen')).toBeVisible({ timeout: 30_000 });
}

/** Signs in and waits for the main screen. */
export async function signIn(page: Page, user: Pick<User, 'handle' | 'password'>): Promise<void> {
  await submitSignIn(page, user);
  await expect(page.getByTestId('main-screen')).toBeVisible({ timeout: 30_000 });
}

/** Opens the settings panel. */
export async function openSettings(page: Page): Promise<void> {
  await openPanel(page, 'settings');
}

/**
 * Opens a sidebar panel with its header toggle. At its own address (a
 * reload there) the app opens it by itself: a click before the app drew it
 * would close it again.
 */
async function openPanel(page: Page, name: 'settings' | 'contacts'): Promise<void> {
  const panel = page.getByTestId(`${name}-panel`);
  const restored = new URL(page.url()).pathname.replace(/\/$/, '') === `/${name}`;
  if (!restored && !(await panel.isVisible())) await page.getByTestId(`open-${name}`).click();
  await expect(panel).toBeVisible();
}

/** Signs out through settings and waits for the auth screen. */
export async function signOut(page: Page): Promise<void> {
  await openSettings(page);
  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('confirm-dialog')).toContainText('deleted');
  await page.getByTestId('confirm-yes').click();
  await expect(page.getByTestId('auth-screen')).toBeVisible();
}

/** Opens the contacts panel. */
export async function openContacts(page: Page): Promise<void> {
  await openPanel(page, 'contacts');
}

/** Adds a contact by handle through the contacts panel. */
export async function addContact(page: Page, handle: string): Promise<void> {
  await openContacts(page);
  await page.getByTestId('contact-handle').fill(handle);
  await page.getByTestId('contact-add').click();
}

/** The entry for `user` in the contact list. */
export function contactItem(page: Page, user: Pick<User, 'handle'>) {
  return page.getByTestId('contact-list').getByTestId('contact-item').filter({ hasText: user.handle });
}

/**
 * Waits until the service worker is `activated` (`ready` can resolve while it is still
 * `activating`) and, with `controlling`, until it controls the page (reloading once when
 * it does not claim the page it was installed from).
 */
export async function waitForServiceWorker(
  page: Page,
  { controlling = false }: { controlling?: boolean } = {},
): Promise<void> {
  const activeState = () =>
    page
      .evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        return registration?.active?.state ?? 'none';
      })
      .catch(() => 'navigating');
  await expect.poll(activeState, { timeout: 30_000 }).toBe('activated');
  if (!controlling) return;

  const controllerState = () =>
    page
      .evaluate(() => navigator.serviceWorker.controller?.state ?? 'none')
      .catch(() => 'navigating');
  if ((await controllerState()) === 'none') await page.reload();
  await expect.poll(controllerState, { timeout: 30_000 }).toBe('activated');
}

// ---------------------------------------------------------------------------------------
// The server's database, as the tests inspect it

/** A PostgreSQL client tool of the newest installed version (or from PATH). */
export function pgBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const version of readdirSync(root).sort().reverse()) {
      const candidate = `${root}/${version}/bin/${tool}`;
      if (existsSync(candidate)) return candidate;
    }
  }
  return tool;
}

/** The URL of `server`'s own database. */
export function dbUrl(server: ParleyServer): string {
  return `${process.env.PARLEY_PG_URL!.replace(/\/+$/, '')}/${server.database}`;
}

/** Runs one query on `server`'s database; the rows as psql prints them unaligned. */
export function sql(server: ParleyServer, query: string): string {
  return execFileSync(pgBin('psql'), ['-XAtq', dbUrl(server), '-c', query], { encoding: 'utf8' }).trim();
}

/** How many of `handle`'s devices have published their keys (senders address only those). */
export function publishedDevices(server: ParleyServer, handle: string): number {
  const query = `SELECT count(*) FROM device_keys k JOIN devices d ON d.id = k.device_id
    JOIN users u ON u.id = d.user_id WHERE u.handle = '${handle}'`;
  return Number(sql(server, query));
}
