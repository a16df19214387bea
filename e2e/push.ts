// A local Web Push service for the browser suite: it plays the part of the
// browser vendor's push service. The server POSTs each push here; this checks
// the VAPID signature (RFC 8292) and decrypts the payload (RFC 8291, with
// the subscription's private key, which a browser would hold), and the test
// hands the plaintext to the service worker through the DevTools protocol,
// as the browser would on receiving it.

import { createDecipheriv, createECDH, createHmac, createPublicKey, randomBytes, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One push as it arrived. */
export interface Push {
  /** The path it was posted to (one per subscription). */
  path: string;
  /** The decrypted payload (what the service worker's `push` event gets). */
  payload: string;
}

const b64url = (bytes: Buffer) => bytes.toString('base64url');
const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** A browser's side of one subscription: the keys a push is encrypted to. */
export class Subscription {
  private readonly ecdh = createECDH('prime256v1');
  readonly auth = randomBytes(16);
  readonly publicKey: Buffer;

  constructor(readonly endpoint: string) {
    this.ecdh.generateKeys();
    this.publicKey = this.ecdh.getPublicKey();
  }

  /** `PushSubscription.toJSON()`. */
  json(): { endpoint: string; keys: { p256dh: string; auth: string } } {
    return { endpoint: this.endpoint, keys: { p256dh: b64url(this.publicKey), auth: b64url(this.auth) } };
  }

  /** RFC 8291: one aes128gcm record, keyed by ECDH with the sender's key. */
  decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const idLength = body[20];
    const senderKey = body.subarray(21, 21 + idLength);
    const record = body.subarray(21 + idLength);
    const shared = this.ecdh.computeSecret(senderKey);
    const info = Buffer.concat([Buffer.from('WebPush: info\0'), this.publicKey, senderKey, Buffer.from([1])]);
    const ikm = hmac(hmac(this.auth, shared), info);
    const prk = hmac(salt, ikm);
    const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01', 'latin1')).subarray(0, 16);
    const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01', 'latin1')).subarray(0, 12);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    // Padding: a 0x02 delimiter (last record), then zeros.
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (plain[end] !== 2) throw new Error('no last-record delimiter');
    return plain.subarray(0, end).toString('utf8');
  }
}

/** Checks `Authorization: vapid t=<JWT>, k=<key>`: ES256 over the JWT, audience, expiry. */
function checkVapid(header: string | undefined, audience: string): void {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!match) throw new Error(`no VAPID authorization: ${header}`);
  const [, token, key] = match;
  const point = Buffer.from(key, 'base64url');
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33, 65)) },
    format: 'jwk',
  });
  const [head, claims, signature] = token.split('.');
  const valid = verify(
    'sha256',
    Buffer.from(`${head}.${claims}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!valid) throw new Error('the VAPID signature does not verify');
  const body = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { aud?: string; exp?: number };
  if (body.aud !== audience) throw new Error(`VAPID audience ${body.aud}, expected ${audience}`);
  if (!body.exp || body.exp * 1000 < Date.now()) throw new Error('the VAPID token has expired');
}

/** The push service: subscriptions by path, pushes as they come. */
export class PushService {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly arrived: Push[] = [];
  private readonly waiting: ((push: Push) => void)[] = [];
  private readonly errors: string[] = [];

  private constructor(
    private readonly http: Server,
    readonly origin: string,
  ) {}

  static async start(): Promise<PushService> {
    let service: PushService | undefined;
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        service?.take(req.url ?? '', req.headers, Buffer.concat(chunks));
        res.statusCode = 201;
        res.end();
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    service = new PushService(http, `http://127.0.0.1:${port}`);
    return service;
  }

  private take(path: string, headers: NodeJS.Dict<string | string[]>, body: Buffer): void {
    try {
      if (headers['content-encoding'] !== 'aes128gcm') throw new Error('not aes128gcm');
      // web-push-native signs for scheme://host (no port).
      checkVapid(headers.authorization as string | undefined, 'http://127.0.0.1');
      const subscription = this.subscriptions.get(path);
      if (!subscription) throw new Error(`a push to an unknown subscription ${path}`);
      const push = { path, payload: subscription.decrypt(body) };
      const waiter = this.waiting.shift();
      if (waiter) waiter(push);
      else this.arrived.push(push);
    } catch (err) {
      this.errors.push(String(err));
    }
  }

  /** A new subscription (what `pushManager.subscribe` would give the page). */
  subscribe(): Subscription {
    const path = `/push/${randomBytes(8).toString('hex')}`;
    const subscription = new Subscription(`${this.origin}${path}`);
    this.subscriptions.set(path, subscription);
    return subscription;
  }

  /** The next push (failing on any malformed one that came before it). */
  next(timeoutMs = 15_000): Promise<Push> {
    if (this.errors.length > 0) return Promise.reject(new Error(this.errors.join('; ')));
    const ready = this.arrived.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no push within ${timeoutMs} ms ${this.errors.join('; ')}`)), timeoutMs);
      this.waiting.push((push) => {
        clearTimeout(timer);
        resolve(push);
      });
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
