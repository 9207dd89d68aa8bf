import type { Command } from './command.js';
import { grantAdmin } from './grant-admin.js';
import { migrate } from './migrate.js';
import { printJwks } from './print-jwks.js';
import { sweep } from './sweep.js';

/** Every command of `npm run tidepass -- <command>`, in the order `--help` lists them. */
export const commands: readonly Command[] = [migrate, grantAdmin, printJwks, sweep];
