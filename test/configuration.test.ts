import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const KEK = Buffer.alloc(32, 7).toString('base64url');

describe('configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      env: 'development',
      port: 4000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      dataDir: './.data',
      jwtIssuer: 'http://localhost:4000',
      jwtAudience: 'tidepass',
      jwtPrivateKey: undefined,
      webhookAllowPrivate: false,
      jwtVerificationKeys: [],
      keyEncryptionKey: undefined,
      accessTokenTtl: 900,
      reauthMaxAge: 300,
      refreshTokenTtl: 2_592_000,
      sessionIdleTimeout: 604_800,
      refreshReuseGrace: 10,
      trustProxy: { kind: 'none' },
      sessionSweepInterval: 30,
      throttle: {
        loginFailuresPerAccount: { points: 5, window: 900 },
        loginFailuresPerIp: { points: 100, window: 3600 },
        signUpsPerIp: { points: 20, window: 3600 },
        loginFailuresAccountWide: { points: 20, window: 3600 },
        knownAddressTtl: 7_776_000,
      },
      listenProbeTimeoutMs: 1500,
      maxRequestBodyBytes: 65_536,
      maxSessionsPerUser: 10,
      sessionRetention: 2_592_000,
      authEventRetention: 7_776_000,
      corsOrigins: [],
      errorDetails: 'loopback',
      graphiql: 'loopback',
      revocationFeedKeys: [],
      revocationFeedMaxClients: 100,
      mail: {
        enabled: true,
        smtpUrl: null,
        from: 'tidepass <no-reply@localhost>',
        publicUrl: 'http://localhost:4000',
        tokenTtl: { verification: 86_400, passwordReset: 1_800, emailChange: 3_600 },
        maxPerRecipientPerHour: 5,
        maxPerIpPerHour: 50,
        signInCodeTtl: 600,
        requireVerification: false,
      },
      metrics: { token: undefined, port: undefined },
      jwksMaxAge: 300,
      webauthn: { rpId: 'localhost', origins: ['http://localhost:4000'] },
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://db.example/tidepass',
      DATA_DIR: '/var/lib/tidepass',
      JWT_ISSUER: 'https://auth.example',
      JWT_AUDIENCE: 'example-api',
      ACCESS_TOKEN_TTL: '300',
      REFRESH_TOKEN_TTL: '86400',
      SESSION_IDLE_TIMEOUT: '3600',
      REFRESH_REUSE_GRACE: '0',
      TRUST_PROXY: 'true',
      KEY_ENCRYPTION_KEY: KEK,
      CORS_ORIGINS: 'https://app.example, http://localhost:5173',
      GRAPHIQL: 'true',
      REVOCATION_FEED_KEYS: ' feed-key-of-service-a-0123456789abcdef , feed-key-of-service-b-0123456789abcdef',
      REVOCATION_FEED_MAX_CLIENTS: '20',
      SMTP_URL: 'smtps://user:secret@mail.example:465',
      MAIL_FROM: 'Example <auth@example.com>',
      PUBLIC_URL: 'https://auth.example/',
      EMAIL_VERIFICATION_TTL: '3600',
      PASSWORD_RESET_TTL: '600',
      EMAIL_CHANGE_TTL: '1200',
      MAIL_MAX_PER_RECIPIENT_PER_HOUR: '3',
      MAIL_MAX_PER_IP_PER_HOUR: '30',
      SIGN_IN_CODE_TTL: '300',
      REQUIRE_EMAIL_VERIFICATION: 'true',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBAUTHN_ORIGINS: 'https://app.auth.example, https://auth.example',
    });
    expect(config).toMatchObject({
      env: 'production',
      webhookAllowPrivate: true,
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://db.example/tidepass',
      dataDir: '/var/lib/tidepass',
      jwtIssuer: 'https://auth.example',
      jwtAudience: 'example-api',
      accessTokenTtl: 300,
      refreshTokenTtl: 86_400,
      sessionIdleTimeout: 3600,
      refreshReuseGrace: 0,
      trustProxy: { kind: 'hops', count: 1 },
      keyEncryptionKey: new Uint8Array(32).fill(7),
      corsOrigins: ['https://app.example', 'http://localhost:5173'],
      errorDetails: 'nobody',
      graphiql: 'everyone',
      revocationFeedKeys: ['feed-key-of-service-a-0123456789abcdef', 'feed-key-of-service-b-0123456789abcdef'],
      revocationFeedMaxClients: 20,
      mail: {
        enabled: true,
        smtpUrl: 'smtps://user:secret@mail.example:465',
        from: 'Example <auth@example.com>',
        publicUrl: 'https://auth.example',
        tokenTtl: { verification: 3600, passwordReset: 600, emailChange: 1200 },
        maxPerRecipientPerHour: 3,
        maxPerIpPerHour: 30,
        signInCodeTtl: 300,
        requireVerification: true,
      },
      webauthn: { rpId: 'auth.example', origins: ['https://auth.example', 'https://app.auth.example'] },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('throws one ConfigError that names every bad variable', () => {
    const bad = {
      PORT: 'eighty',
      DATABASE_URL: 'mysql://db.example/tidepass',
      JWT_PRIVATE_KEY: '{not json',
      ACCESS_TOKEN_TTL: '-5',
      REFRESH_TOKEN_TTL: '1.5',
      SESSION_IDLE_TIMEOUT: '0',
      REFRESH_REUSE_GRACE: 'soon',
      TRUST_PROXY: 'maybe',
      NODE_ENV: 'staging',
    };
    let error: unknown;
    try {
      loadConfig(bad);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of Object.keys(bad)) expect(message).toMatch(new RegExp(`^  ${name}: `, 'm'));
    expect(message.split('\n')).toHaveLength(Object.keys(bad).length + 1);
  });

  it.each([
    ['an RSA key', { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB' }],
    ['a P-384 key', { kty: 'EC', crv: 'P-384', x: 'x', y: 'y', d: 'd' }],
    ['a public key without d', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }],
  ])('refuses %s as JWT_PRIVATE_KEY, in one line', (_name, jwk) => {
    expect(() => loadConfig({ JWT_PRIVATE_KEY: JSON.stringify(jwk) })).toThrow(
      /^Invalid configuration:\n {2}JWT_PRIVATE_KEY: must [^\n]+$/,
    );
  });

  it.each([
    ['not JSON', '[{'],
    ['one key, not an array', JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' })],
    ['a private key', JSON.stringify([{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }])],
    ['a P-384 key', JSON.stringify([{ kty: 'EC', crv: 'P-384', x: 'x', y: 'y' }])],
    ['an empty kid', JSON.stringify([{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: '' }])],
  ])('refuses %s as JWT_VERIFICATION_KEYS, in one line', (_name, value) => {
    expect(() => loadConfig({ JWT_VERIFICATION_KEYS: value })).toThrow(
      /^Invalid configuration:\n {2}JWT_VERIFICATION_KEYS: [^\n]+$/,
    );
  });

  it('refuses REQUIRE_EMAIL_VERIFICATION=true with MAIL=disabled, in one line', () => {
    expect(() => loadConfig({ REQUIRE_EMAIL_VERIFICATION: 'true', MAIL: 'disabled' })).toThrow(
      /^Invalid configuration:\n {2}REQUIRE_EMAIL_VERIFICATION: [^\n]+$/,
    );
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 4000, databaseUrl: undefined });
  });

  it.each([
    [{ ACCESS_TOKEN_TTL: '3601' }, 'ACCESS_TOKEN_TTL: must be at most 3600'],
    [{ REFRESH_REUSE_GRACE: '61' }, 'REFRESH_REUSE_GRACE: must be at most 60'],
    [{ REFRESH_TOKEN_TTL: '86400', SESSION_RETENTION: '86399' }, 'SESSION_RETENTION: must be at least REFRESH_TOKEN_TTL (86400)'],
  ])('refuses %o at start-up, in one line', (env, line) => {
    let message = '';
    try {
      loadConfig(env);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual(['Invalid configuration:', expect.stringContaining(`  ${line}`)]);
  });

  it('accepts the bounds themselves', () => {
    expect(
      loadConfig({ ACCESS_TOKEN_TTL: '3600', REFRESH_REUSE_GRACE: '60', REFRESH_TOKEN_TTL: '86400', SESSION_RETENTION: '86400' }),
    ).toMatchObject({ accessTokenTtl: 3600, refreshReuseGrace: 60, sessionRetention: 86_400 });
  });
});
