import postgres from 'postgres';

/** A transaction on a connection of its own that holds whatever `take` locked until released. */
export interface HeldLock {
  /** Commits the holding transaction and closes its connection; safe to call more than once. */
  release(): Promise<void>;
}

/**
 * Opens a second connection to `url`, runs `take` in a transaction on it (a row or table lock), and
 * resolves once it has: the app's statements that need what it locked wait from then on (PostgreSQL
 * only: PGlite has one connection).
 */
export async function holdLock(url: string, take: (tx: postgres.TransactionSql) => Promise<unknown>): Promise<HeldLock> {
  const other = postgres(url, { max: 1, onnotice: () => {} });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = other.begin(async (tx) => {
    await take(tx);
    locked();
    await released;
  });
  try {
    await Promise.race([isLocked, holder]);
  } catch (error) {
    await other.end();
    throw error;
  }
  let ended: Promise<void> | undefined;
  return {
    release: () => {
      ended ??= (async () => {
        release();
        await holder;
        await other.end();
      })();
      return ended;
    },
  };
}
