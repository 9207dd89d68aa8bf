import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { Database, Executor } from '../db/client.js';
import { users } from '../db/schema.js';
import { badInput } from '../errors.js';
import { isCommonPassword } from './common-passwords.js';
import { isUuid } from './crypto.js';
import type { Role } from '../db/roles.js';

export { roles, type Role } from '../db/roles.js';

export interface User {
  readonly id: string;
  readonly email: string;
  /** As of the read: the access token's `role` claim is this, as of its issue. */
  readonly role: Role;
  readonly createdAt: Date;
}

/** A user as loaded from its row: with whether its address has been proven, and whether an admin disabled it. */
export interface Account extends User {
  readonly emailVerified: boolean;
  readonly disabled: boolean;
}

/** A user known only by id (from a verified access token); the other fields are loaded when asked for. */
export interface UserReference {
  readonly id: string;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;
const EMAIL_MAX_LENGTH = 254;
const emailSchema = z.email();

/**
 * Inputs longer than these (in UTF-16 units) are refused before any normalisation, trimming or
 * spreading touches them, so that a 5 MB argument costs nothing. Generous: NFKC composition can
 * shrink a string, but not a real password of 256 characters beyond this.
 */
const PASSWORD_RAW_MAX_LENGTH = PASSWORD_MAX_LENGTH * 16;
const EMAIL_RAW_MAX_LENGTH = 1024;

/** Trimmed and lower-cased: one account per mailbox however it is typed. */
export function normaliseEmail(raw: string): string {
  if (raw.length > EMAIL_RAW_MAX_LENGTH || !isWellFormed(raw)) throw badInput('email', 'Enter a valid email address.');
  const email = raw.trim().toLowerCase();
  if (email.length > EMAIL_MAX_LENGTH || !emailSchema.safeParse(email).success) {
    throw badInput('email', 'Enter a valid email address.');
  }
  return email;
}

/**
 * A password as presented at login: NFKC, at most PASSWORD_MAX_LENGTH characters. No other rule, so
 * that a password set under older rules still logs in.
 */
export function normalisePresentedPassword(raw: string, field = 'password'): string {
  const tooLong = () => badInput(field, `The password must be at most ${PASSWORD_MAX_LENGTH} characters long.`);
  if (raw.length > PASSWORD_RAW_MAX_LENGTH) throw tooLong();
  if (!isWellFormed(raw)) throw notText(field);
  const password = raw.normalize('NFKC');
  if (codePointLength(password) > PASSWORD_MAX_LENGTH) throw tooLong();
  return password;
}

/**
 * A password being set (sign-up, password change). NFKC first, so that what is counted and hashed is
 * what the user sees; length in code points; no NUL; not one of the most common passwords.
 */
export async function normaliseNewPassword(raw: string, field = 'password'): Promise<string> {
  const wrongLength = () =>
    badInput(field, `The password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long.`);
  if (raw.length > PASSWORD_RAW_MAX_LENGTH) throw wrongLength();
  if (!isWellFormed(raw)) throw notText(field);
  const password = raw.normalize('NFKC');
  const length = codePointLength(password);
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) throw wrongLength();
  if (password.includes('\u0000')) throw badInput(field, 'The password must not contain NUL characters.');
  if (await isCommonPassword(password)) {
    throw badInput(field, 'This password is among the most common ones; choose another.');
  }
  return password;
}

/** A lone UTF-16 surrogate (from a JSON escape such as "\ud800") is no character: it would be hashed as U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

function notText(field: string) {
  return badInput(field, 'The password must be valid Unicode text.');
}

function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length += 1;
  return length;
}

export const accountColumns = {
  id: users.id,
  email: users.email,
  role: users.role,
  emailVerified: users.emailVerified,
  disabled: sql<boolean>`${users.disabledAt} is not null`.as('disabled'),
  createdAt: users.createdAt,
};

/** Inserts the user, or returns null when the email is taken. */
export async function insertUser(
  db: Executor,
  clock: Clock,
  input: { id?: string; email: string; passwordHash: string },
): Promise<User | null> {
  const [user] = await db
    .insert(users)
    .values({ id: input.id ?? crypto.randomUUID(), email: input.email, passwordHash: input.passwordHash, createdAt: clock() })
    .onConflictDoNothing({ target: users.email })
    .returning(accountColumns);
  return user ?? null;
}

export async function findUserById(db: Executor, id: string): Promise<Account | null> {
  const [user] = await db.select(accountColumns).from(users).where(eq(users.id, id));
  return user ?? null;
}

/**
 * The users of these ids, as a statement built once per database: it runs for every `me`, and building the
 * query anew each time cost more CPU than the database spent answering it. The ids travel as one
 * array parameter whatever their number; a non-uuid (which no user has) is left out of it.
 */
export function prepareFindUsersByIds(db: Database): (ids: readonly string[]) => Promise<Account[]> {
  const query = db
    .select(accountColumns)
    .from(users)
    .where(sql`${users.id} = any(${sql.placeholder('ids')}::uuid[])`)
    .prepare('find_users_by_ids');
  return async (ids) => {
    const wellFormed = ids.filter(isUuid);
    return wellFormed.length === 0 ? [] : query.execute({ ids: `{${wellFormed.join(',')}}` });
  };
}

/** A user with the password hash to check and its version (see users.passwordVersion). */
export type Credentials = User & { readonly passwordHash: string; readonly passwordVersion: number };

const credentialColumns = { ...accountColumns, passwordHash: users.passwordHash, passwordVersion: users.passwordVersion };

export async function findCredentials(db: Executor, email: string): Promise<Credentials | null> {
  const [user] = await db
    .select(credentialColumns)
    .from(users)
    .where(eq(users.email, email));
  return user ?? null;
}

export async function findCredentialsById(db: Executor, id: string): Promise<Credentials | null> {
  const [user] = await db
    .select(credentialColumns)
    .from(users)
    .where(eq(users.id, id));
  return user ?? null;
}

/**
 * Sets a new password (every way a password changes goes through here) and bumps its version, so
 * that a login that checked the old one cannot start a session any more. Only if the password is
 * still of `checkedVersion` (the one the caller checked or read): false, and nothing written, otherwise.
 */
export async function updatePasswordHash(
  db: Executor,
  input: { userId: string; passwordHash: string; checkedVersion: number },
): Promise<boolean> {
  const changed = await db
    .update(users)
    .set({ passwordHash: input.passwordHash, passwordVersion: sql`${users.passwordVersion} + 1` })
    .where(and(eq(users.id, input.userId), eq(users.passwordVersion, input.checkedVersion)))
    .returning({ id: users.id });
  return changed.length > 0;
}

/**
 * The same password hashed again with today's parameters, only over the hash it was checked against:
 * a password changed meanwhile must not be overwritten by the old one.
 */
export async function rehashPassword(
  db: Executor,
  input: { userId: string; checkedHash: string; passwordHash: string },
): Promise<void> {
  await db
    .update(users)
    .set({ passwordHash: input.passwordHash })
    .where(and(eq(users.id, input.userId), eq(users.passwordHash, input.checkedHash)));
}

export async function markEmailVerified(db: Executor, userId: string): Promise<void> {
  await db.update(users).set({ emailVerified: true }).where(eq(users.id, userId));
}
