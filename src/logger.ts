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
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const log = (level: Level) => (message: string, fields: LogFields = {}) => {
    if (levels[level] < threshold) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...serialise(fields) }));
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Errors become name and message (and stack, which holds no request data); everything else as is. */
function serialise(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
  }
  return out;
}
