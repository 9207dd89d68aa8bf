import { and, asc, eq, or, gt, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { users } from '../../db/schema.js';
import { badInput } from '../../errors.js';
import { isUuid } from '../crypto.js';
import { accountColumns, type Account } from '../users.js';

export const USERS_MAX_PAGE = 100;

export interface UserPage {
  readonly edges: readonly { readonly cursor: string; readonly node: Account }[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

/**
 * Users for the admin list, oldest first by (created_at, id): a stable order in which a user created
 * meanwhile lands at the end rather than shifting the pages. Cursors are opaque to clients (base64url
 * of that pair): a keyset, so a page costs the same however deep, and a deleted user's cursor still works.
 */
export async function listUsers(
  db: Executor,
  input: { query: string | null; first: number; after: string | null },
): Promise<UserPage> {
  const { first } = input;
  if (!Number.isInteger(first) || first < 1 || first > USERS_MAX_PAGE) {
    throw badInput('first', `first must be between 1 and ${USERS_MAX_PAGE}.`);
  }
  const conditions: SQL[] = [];
  if (input.query) {
    if (input.query.length > 254) throw badInput('query', 'The query must be at most 254 characters long.');
    // Emails are stored in lower case: a case-insensitive substring, with LIKE's wildcards taken literally.
    const literal = input.query.trim().toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
    conditions.push(sql`${users.email} like ${`%${literal}%`}`);
  }
  if (input.after) {
    const after = decodeCursor(input.after);
    conditions.push(or(gt(users.createdAt, after.createdAt), and(eq(users.createdAt, after.createdAt), gt(users.id, after.id)))!);
  }
  const rows = await db
    .select(accountColumns)
    .from(users)
    .where(and(...conditions))
    .orderBy(asc(users.createdAt), asc(users.id))
    .limit(first + 1);
  const page = rows.slice(0, first);
  const edges = page.map((node) => ({ cursor: encodeCursor(node), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}

function encodeCursor(user: Pick<Account, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([user.createdAt.toISOString(), user.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const invalid = () => badInput('after', 'Not a cursor of this list.');
  if (cursor.length > 200) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw invalid();
  const [at, id] = decoded as unknown[];
  const createdAt = typeof at === 'string' ? new Date(at) : new Date(NaN);
  if (Number.isNaN(createdAt.getTime()) || typeof id !== 'string' || !isUuid(id)) throw invalid();
  return { createdAt, id };
}
