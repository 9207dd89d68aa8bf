import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const ISSUER = 'https://tidepass.test';
export const AUDIENCE = 'tidepass-test';
export const FEED_KEY = 'k'.repeat(40);

export interface Signer {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export async function newSigner(kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/**
 * The two endpoints the package talks to, serving what a test tells them to: a stand-in for tidepass
 * in the package's own tests (the tests against a real tidepass are in the repository's test/).
 */
export async function startFakeTidepass(options: { accessTokenTtl?: number; clock?: () => Date } = {}) {
  const ttl = options.accessTokenTtl ?? 900;
  const clock = options.clock ?? (() => new Date());
  const signers: Signer[] = [await newSigner('key-1')];
  const streams = new Set<ServerResponse>();
  const requests: { path: string; lastEventId: string | undefined }[] = [];
  let snapshot: string[] = [];
  let refuse: number | undefined;
  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', lastEventId: req.headers['last-event-id'] as string | undefined });
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: signers.map((s) => s.jwk) }));
      return;
    }
    if (req.url !== '/revocations') return void res.writeHead(404).end();
    if (refuse) return void res.writeHead(refuse).end();
    if (req.headers.authorization !== `Bearer ${FEED_KEY}`) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const hello = { issuer: ISSUER, audience: AUDIENCE, accessTokenTtl: ttl, serverTime: clock().toISOString(), heartbeatInterval: 15_000 };
    res.write(`event: hello\ndata: ${JSON.stringify(hello)}\n\n`);
    for (const event of snapshot) res.write(event);
    res.write('event: ready\ndata: {}\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    signers,
    requests,
    get connections() {
      return streams.size;
    },
    /** What every new connection receives between hello and ready. */
    setSnapshot(ends: { sessionId: string; userId: string; endedAt: Date }[]) {
      snapshot = ends.map((end) => revokedEvent(end));
    },
    refuseWith(status: number | undefined) {
      refuse = status;
    },
    push(end: { sessionId: string; userId: string; endedAt: Date; reason?: string }) {
      for (const res of streams) res.write(revokedEvent(end));
    },
    writeRaw(text: string) {
      for (const res of streams) res.write(text);
    },
    dropConnections() {
      for (const res of streams) res.destroy();
    },
    async sign(claims: Record<string, unknown>, header: Record<string, unknown> = {}, signer = signers[0]!) {
      const now = Math.floor(clock().getTime() / 1000);
      return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: crypto.randomUUID(), sid: crypto.randomUUID(), jti: crypto.randomUUID(), iat: now, exp: now + ttl, ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid, ...header })
        .sign(signer.privateKey);
    },
    async close() {
      for (const res of streams) res.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function revokedEvent(end: { sessionId: string; userId: string; endedAt: Date; reason?: string }): string {
  const data = { sessionId: end.sessionId, userId: end.userId, reason: end.reason ?? 'LOGOUT', endedAt: end.endedAt.toISOString() };
  return `event: revoked\nid: ${end.endedAt.getTime()}-${end.sessionId}\ndata: ${JSON.stringify(data)}\n\n`;
}
