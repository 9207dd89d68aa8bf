import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Executor } from '../db/client.js';
import { users } from '../db/schema.js';
import { badInput } from '../errors.js';

export interface User {
  readonly id: string;
  readonly email: string;
  readonly createdAt: Date;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
const EMAIL_MAX_LENGTH = 254;
const emailSchema = z.email();

/** Trimmed and lower-cased: one account per mailbox however it is typed. */
export function normaliseEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > EMAIL_MAX_LENGTH || !emailSchema.safeParse(email).success) {
    throw badInput('email', 'Enter a valid email address.');
  }
  return email;
}

/** NFKC first, so that what is counted and hashed is what the user sees. Length in code points. */
export function normalisePassword(raw: string): string {
  const password = raw.normalize('NFKC');
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw badInput(
      'password',
      `The password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long.`,
    );
  }
  if (password.includes('\u0000')) throw badInput('password', 'The password must not contain NUL characters.');
  return password;
}

const publicColumns = { id: users.id, email: users.email, createdAt: users.createdAt };

/** Inserts the user, or returns null when the email is taken. */
export async function insertUser(
  db: Executor,
  clock: Clock,
  input: { email: string; passwordHash: string },
): Promise<User | null> {
  const [user] = await db
    .insert(users)
    .values({ id: crypto.randomUUID(), email: input.email, passwordHash: input.passwordHash, createdAt: clock() })
    .onConflictDoNothing({ target: users.email })
    .returning(publicColumns);
  return user ?? null;
}

export async function findUserById(db: Executor, id: string): Promise<User | null> {
  const [user] = await db.select(publicColumns).from(users).where(eq(users.id, id));
  return user ?? null;
}

export async function findCredentials(
  db: Executor,
  email: string,
): Promise<(User & { passwordHash: string }) | null> {
  const [user] = await db
    .select({ ...publicColumns, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, email));
  return user ?? null;
}

export async function updatePasswordHash(db: Executor, userId: string, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash }).where(eq(users.id, userId));
}
