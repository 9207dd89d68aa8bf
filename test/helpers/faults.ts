import { sql } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';

/**
 * A fault no code path expects: every insert into `table` fails, by a trigger. Returns what removes
 * it again (a test that shares its database with later ones must call it).
 */
export async function refuseInserts(db: Database, table: 'sessions' | 'refresh_tokens'): Promise<() => Promise<void>> {
  const name = sql.identifier(`refuse_insert_into_${table}`);
  await db.execute(sql`
    create function ${name}() returns trigger language plpgsql as $$
    begin raise exception 'refused by a test trigger'; end $$`);
  await db.execute(sql`create trigger ${name} before insert on ${sql.identifier(table)} for each row execute function ${name}()`);
  return async () => {
    await db.execute(sql`drop trigger ${name} on ${sql.identifier(table)}`);
    await db.execute(sql`drop function ${name}()`);
  };
}

/**
 * The database answers every change to `sessions` as a server that is starting up does (SQLSTATE
 * 57P03, cannot_connect_now): an outage for whatever ends sessions, on PGlite too, where no proxy
 * can cut a connection. Returns what ends it.
 */
export async function sessionWritesUnavailable(db: Database): Promise<() => Promise<void>> {
  const name = sql.identifier('sessions_unavailable');
  await db.execute(sql`
    create function ${name}() returns trigger language plpgsql as $$
    begin raise exception 'the database is starting up (a test trigger)' using errcode = '57P03'; end $$`);
  await db.execute(sql`create trigger ${name} before update or insert or delete on sessions for each row execute function ${name}()`);
  return async () => {
    await db.execute(sql`drop trigger ${name} on sessions`);
    await db.execute(sql`drop function ${name}()`);
  };
}
