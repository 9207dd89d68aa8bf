import { z } from 'zod';

/** The parsers of config.ts's values: each turns one variable's text into a value, or into one clear line. */
export const seconds = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number of seconds' })
    .int('must be a whole number of seconds')
    .positive('must be positive')
    .default(fallback);

export const count = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .positive('must be positive')
    .default(fallback);

/** A variable holding JSON, parsed; `message` when it is not JSON. */
export const json = (message: string) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
  });

export const privateJwk = json('must be a private JWK as JSON').pipe(
  z.looseObject(
    {
      kty: z.literal('EC', 'must be an EC key (kty "EC")'),
      crv: z.literal('P-256', 'must be on curve P-256 (ES256)'),
      x: z.string({ error: 'must contain the public part "x"' }),
      y: z.string({ error: 'must contain the public part "y"' }),
      d: z.string({ error: 'must contain the private part "d"' }),
      kid: z.string().optional(),
    },
    { error: 'must be a private JWK as JSON' },
  ),
);

export const PUBLIC_JWKS_MESSAGE = 'must be a JSON array of public EC P-256 JWKs (kty, crv, x, y, optional kid)';

/**
 * Public keys accepted and published beside the signing key: what rotating it needs (the next key
 * published before it signs, the previous one kept until its tokens have expired). Public only: a
 * private part here would be a secret where none is expected, so it is refused rather than dropped.
 */
export const publicJwks = json(PUBLIC_JWKS_MESSAGE).pipe(
  z
    .array(
      z
        .looseObject(
          {
            kty: z.literal('EC', 'each key must be an EC key (kty "EC")'),
            crv: z.literal('P-256', 'each key must be on curve P-256 (ES256)'),
            x: z.string({ error: 'each key must contain "x"' }),
            y: z.string({ error: 'each key must contain "y"' }),
            kid: z.string().min(1, 'a kid must not be empty').optional(),
          },
          { error: PUBLIC_JWKS_MESSAGE },
        )
        .refine((jwk) => !('d' in jwk), 'must hold public keys only: remove "d" (the private part)'),
      { error: PUBLIC_JWKS_MESSAGE },
    )
    .max(10, 'at most 10 keys'),
);

export const ORIGINS_MESSAGE = 'must be a comma-separated list of exact origins such as https://app.example.com (no path, no *)';

/** Exact origins only: a wildcard or a path would widen who may send credentialed requests. */
export const origins = z.string().transform((text, ctx) => {
  const list = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of list) {
    let origin: string | null = null;
    try {
      const url = new URL(entry);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && !entry.includes('*')) origin = url.origin;
    } catch {
      // not a URL: reported below
    }
    if (origin !== entry) {
      ctx.addIssue({ code: 'custom', message: ORIGINS_MESSAGE });
      return z.NEVER;
    }
  }
  return [...new Set(list)];
});

/** Keys of the services allowed to read GET /revocations; long enough that guessing one is hopeless. */
export const feedKeys = z.string().transform((text, ctx) => {
  const list = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (list.some((key) => key.length < 32)) {
    ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of keys of at least 32 characters each' });
    return z.NEVER;
  }
  return [...new Set(list)];
});

export const KEY_ENCRYPTION_KEY_MESSAGE = 'must be 32 random bytes as base64url (43 characters), e.g. from `openssl rand 32 | basenc --base64url`';

/** 32 bytes as base64url: AES-256's key. Strict, so that a typo is not silently a different key. */
export const keyEncryptionKey = z.string().transform((text, ctx) => {
  const bytes = Buffer.from(text, 'base64url');
  if (!/^[A-Za-z0-9_-]{43}=?$/.test(text) || bytes.length !== 32) {
    ctx.addIssue({ code: 'custom', message: KEY_ENCRYPTION_KEY_MESSAGE });
    return z.NEVER;
  }
  return new Uint8Array(bytes);
});

export const MAX_ACCESS_TOKEN_TTL = 3600;
export const MAX_REFRESH_REUSE_GRACE = 60;
