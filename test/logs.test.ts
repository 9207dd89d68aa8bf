import { describe, expect, it } from 'vitest';
import { createJsonLogger } from '../src/logger.js';
import { useTestApp } from './helpers/app.js';
import { REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';

/** Every JSON line the app logs. */
const lines: string[] = [];
const t = useTestApp({ logger: createJsonLogger({ level: 'debug', write: (line) => lines.push(line) }) });

describe('logs', () => {
  it('writes one JSON line per request with a request id, also returned in x-request-id', async () => {
    lines.length = 0;
    const response = await t.gql('{ __typename }', {}, { headers: { 'x-request-id': 'req-123' } });
    expect(response.headers.get('x-request-id')).toBe('req-123');
    const generated = await t.gql('{ __typename }');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toEqual([
      expect.objectContaining({ level: 'info', msg: 'request', requestId: 'req-123', path: '/graphql', status: 200 }),
      expect.objectContaining({ requestId: generated.headers.get('x-request-id') }),
    ]);
  });

  it('never logs passwords, tokens or token hashes', async () => {
    lines.length = 0;
    const email = uniqueEmail();
    const password = `secret-${crypto.randomUUID()}`;
    const first = await signUp(t.gql, { email, password });
    const second = await refresh(t.gql, first.refreshToken);
    await t.gql(REFRESH, { refreshToken: first.refreshToken });
    await t.gql(`mutation { login(email: "${email}", password: "wrong-${password}") { accessToken } }`);
    await t.gql('{ me { id } }', {}, { token: `${second.accessToken}x` });

    expect(lines.length).toBeGreaterThanOrEqual(5);
    const logged = lines.join('\n');
    const { createHash } = await import('node:crypto');
    for (const secret of [password, first.refreshToken, second.refreshToken, first.accessToken, second.accessToken]) {
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(createHash('sha256').update(secret).digest('hex'));
    }
    expect(logged).not.toContain(second.accessToken.split('.')[2]);
  });
});
