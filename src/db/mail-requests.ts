import { eq } from 'drizzle-orm';
import type { Executor } from './client.js';
import { mailRequests } from './schema.js';

export type MailRequestKind = 'RESET_PASSWORD' | 'SIGN_IN_CODE';

export interface MailRequest {
  readonly id: string;
  readonly kind: MailRequestKind;
  readonly email: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** Records a request; pass the transaction that acknowledges it. */
export async function insertMailRequest(
  tx: Executor,
  request: Omit<MailRequest, 'id'> & { readonly now: Date },
): Promise<void> {
  await tx.insert(mailRequests).values({
    id: crypto.randomUUID(),
    kind: request.kind,
    email: request.email,
    ip: request.ip,
    userAgent: request.userAgent,
    createdAt: request.now,
  });
}

/**
 * The oldest request nobody else holds, locked until `tx` ends (SKIP LOCKED: another instance takes
 * the next one). Deleted in the same transaction once resolved; a crash before commit leaves it.
 */
export async function claimMailRequest(tx: Executor): Promise<MailRequest | null> {
  const [row] = await tx
    .select()
    .from(mailRequests)
    .orderBy(mailRequests.createdAt)
    .limit(1)
    .for('update', { skipLocked: true });
  if (!row) return null;
  return { id: row.id, kind: row.kind as MailRequestKind, email: row.email, ip: row.ip, userAgent: row.userAgent };
}

export async function deleteMailRequest(tx: Executor, id: string): Promise<void> {
  await tx.delete(mailRequests).where(eq(mailRequests.id, id));
}
