import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';

/** What a command writes: stdout for its result (e.g. JSON), stderr for everything said to the operator. */
export interface CommandOutput {
  out(text: string): void;
  err(text: string): void;
}

export interface CommandInput {
  /** The arguments after the command's name, options removed, in order. */
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  /** Loaded on demand: `--help` works without a valid configuration. */
  config(): Config;
  readonly output: CommandOutput;
}

/** One command of `npm run tidepass -- <command>`: a module of its own, registered in commands.ts. */
export interface Command {
  readonly name: string;
  /** One line, for the list of commands. */
  readonly summary: string;
  /** What follows the name in the usage line, e.g. "<email>". */
  readonly arguments: string;
  /** The rest of `--help`: what it does, what it needs, its exit codes if special. */
  readonly description: string;
  /** Its own options (besides --help), for node:util parseArgs. */
  readonly options?: NonNullable<ParseArgsConfig['options']>;
  /** How many positionals it takes (exactly). */
  readonly positionalCount: number;
  run(input: CommandInput): Promise<void>;
}

/** A failure to tell the operator in one line (stderr), with this exit status; no stack trace. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    /** 1: the command failed; 2: it was called wrongly (usage). */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}
