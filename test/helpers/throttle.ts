import { inArray } from 'drizzle-orm';
import { sha256Hex } from '../../src/auth/crypto.js';
import { throttleCounters } from '../../src/db/schema.js';
import type { TestApp } from './app.js';
import type { Gql, GqlResult } from './gql.js';

/** Behind our own proxy, so that each test can speak from addresses of its own (X-Forwarded-For). */
export const PROXIED = { TRUST_PROXY: 'true' };

export const LOGIN = `mutation ($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken } }`;

let lastOctet = 0;
/** An IPv4 address of the documentation range that no other test of this file has used. */
export function newAddress(): string {
  lastOctet += 1;
  return `203.0.113.${lastOctet}`;
}

export function loginFrom(gql: Gql, ip: string, email: string, password: string) {
  return gql(LOGIN, { email, password }, { headers: { 'x-forwarded-for': ip } });
}

export function retryAfterOf(result: GqlResult): unknown {
  return result.errors?.[0]?.extensions?.retryAfter;
}

/** The points a counter row holds, as [sum] (or [] when there is no row). */
export async function countersOf(app: TestApp, key: string): Promise<number[]> {
  const rows = await app.app.database.db
    .select({ counts: throttleCounters.counts })
    .from(throttleCounters)
    .where(inArray(throttleCounters.key, [key]));
  return rows.map((row) => row.counts.reduce((a, b) => a + b, 0));
}

export function accountKeyOf(email: string, ip: string): string {
  return `login-account:${sha256Hex(`${email}\n${ip}`)}`;
}
