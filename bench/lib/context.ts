import type { BenchDatabase } from './database.js';
import type { Signer } from './fixtures.js';
import type { Figure } from './results.js';
import type { ServerProcess, SpawnOptions } from './server.js';

export interface BenchContext {
  readonly quick: boolean;
  readonly database: BenchDatabase;
  readonly signer: Signer;
  /** A tidepass server (src/main.ts) on the bench database, in its own process. */
  startServer(name: string, env?: Record<string, string>, options?: Pick<SpawnOptions, 'gcOnSignal'>): Promise<ServerProcess>;
  /** Any other helper process of bench/ (bare baselines). */
  spawnHelper(options: Pick<SpawnOptions, 'name' | 'entry' | 'env' | 'readyPath' | 'gcOnSignal'>): Promise<ServerProcess>;
}

/** Thrown by a scenario that cannot run here (e.g. it needs PostgreSQL). */
export class Skip extends Error {}

export interface Scenario {
  readonly id: number;
  readonly name: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}
