import { isDatabaseUnavailable } from '../db/errors.js';
import { AuthError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * The family's methods, each answering a database outage with SERVICE_UNAVAILABLE (logged: it is a
 * fault, unlike the other AuthErrors), so that the API layer never needs to know what storage fails with.
 */
export function withOutagesAsUnavailable<T extends object>(family: T, logger: Logger): T {
  const guarded = Object.create(family) as T;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(family))) {
    const method: unknown = (family as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    const call = (...args: unknown[]): unknown => {
      const result: unknown = method.apply(family, args);
      return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(unavailable(error, logger))) : result;
    };
    Object.defineProperty(guarded, name, { value: call });
  }
  return guarded;
}

function unavailable(error: unknown, logger: Logger): unknown {
  if (!isDatabaseUnavailable(error)) return error;
  logger.error('database unavailable', { error });
  return new AuthError('SERVICE_UNAVAILABLE');
}
