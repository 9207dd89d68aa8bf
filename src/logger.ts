import { writeSync } from 'node:fs';

/**
 * One JSON line per event. Callers pass only fields that are safe to keep: never passwords,
 * tokens, token hashes or keys.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

type Level = keyof Logger;
const levels: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createJsonLogger(options: {
  level?: Level;
  write?: (line: string) => void;
} = {}): Logger {
  const threshold = levels[options.level ?? 'info'];
  const write = options.write ?? stdoutOncePerTick();
  const log = (level: Level) => (message: string, fields: LogFields = {}) => {
    if (levels[level] < threshold) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...serialise(fields) }));
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/**
 * Lines gathered and written to stdout once per turn of the event loop: writes to a file or a pipe
 * are synchronous in Node. What is still buffered at exit is written synchronously then.
 */
function stdoutOncePerTick(): (line: string) => void {
  let buffered: string[] = [];
  const flush = () => {
    if (buffered.length === 0) return;
    const text = buffered.join('');
    buffered = [];
    process.stdout.write(text);
  };
  process.once('exit', () => {
    if (buffered.length > 0) writeSync(1, buffered.join(''));
  });
  return (line) => {
    if (buffered.length === 0) setImmediate(flush);
    buffered.push(line + '\n');
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Errors become name, message, stack frames and cause; everything else as is. */
function serialise(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? serialiseError(value, 0) : value;
  }
  return out;
}

const MAX_CAUSE_DEPTH = 3;

function serialiseError(error: Error, depth: number): LogFields {
  // drizzle's DrizzleQueryError puts the bound parameters of the failed query in its message (emails,
  // password and token hashes, keys): keep the SQL text, which has placeholders only, and drop them.
  const message = isQueryError(error) ? `Failed query: ${error.query}` : error.message;
  // Only the frames: the first line of a stack repeats the message.
  const stack = error.stack?.split('\n').filter((line) => line.startsWith('    at ')).join('\n');
  const cause = error.cause instanceof Error && depth < MAX_CAUSE_DEPTH ? serialiseError(error.cause, depth + 1) : undefined;
  return { name: error.name, message, stack, ...(cause ? { cause } : {}) };
}

function isQueryError(error: Error): error is Error & { query: string } {
  return 'params' in error && 'query' in error && typeof error.query === 'string';
}
