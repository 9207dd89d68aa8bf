import { isDatabaseUnavailable } from '../db/errors.js';
import { AuthError } from '../errors.js';

/**
 * What the credential and session use cases report of each attempt, for the operator's figures.
 * An outcome is `success`, `grace` (a refresh answered again inside the grace window), or the
 * lower-case error code the caller got (`invalid_credentials`, `refresh_token_reused`, …); a fault
 * that is no AuthError is `error`. The metrics module implements it; the domain knows nothing of it.
 */
export interface AuthOutcomes {
  login(outcome: string): void;
  signUp(outcome: string): void;
  refresh(outcome: string): void;
}

export const ignoredOutcomes: AuthOutcomes = { login: () => {}, signUp: () => {}, refresh: () => {} };

export function outcomeOfError(error: unknown): string {
  if (error instanceof AuthError) return error.code.toLowerCase();
  // As withOutagesAsUnavailable will answer it, wherever this runs.
  return isDatabaseUnavailable(error) ? 'service_unavailable' : 'error';
}

/** The family with `methods` reporting their outcomes (a decorator, as withOutagesAsUnavailable). */
export function withReportedOutcomes<T extends object>(family: T, methods: Partial<Record<keyof T & string, (outcome: string) => void>>): T {
  const reporting = Object.create(family) as T;
  for (const [name, report] of Object.entries(methods) as [string, (outcome: string) => void][]) {
    const method = (family as Record<string, unknown>)[name] as (...args: unknown[]) => Promise<unknown>;
    Object.defineProperty(reporting, name, { value: (...args: unknown[]) => reported(report, () => method.apply(family, args)) });
  }
  return reporting;
}

/** Reports the outcome of `attempt` (its result, or the code of the error it throws) and passes it on. */
export async function reported<T>(report: (outcome: string) => void, attempt: () => Promise<T>, success = 'success'): Promise<T> {
  try {
    const result = await attempt();
    report(success);
    return result;
  } catch (error) {
    report(outcomeOfError(error));
    throw error;
  }
}
