import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { signUp, uniqueEmail } from './helpers/auth-flows.js';
import { REQUEST_CODE, REQUEST_RESET } from './helpers/email-flows.js';

const t = useTestApp();
const PAIRS = 60;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const mutations = [
  { name: 'requestPasswordReset', document: REQUEST_RESET },
  { name: 'requestSignInCode', document: REQUEST_CODE },
] as const;

describe.each(mutations)('$name and account enumeration', ({ name, document }) => {
  async function timedRequest(email: string): Promise<number> {
    const started = performance.now();
    const result = await t.gql(document, { email });
    const elapsed = performance.now() - started;
    expect(result.data).toEqual({ [name]: true });
    // The request is resolved after answering: let it finish outside the measured time.
    await t.app.auth.email.settled();
    return elapsed;
  }

  it('answers an unknown address as fast as a known one (median ratio within 0.8..1.25)', async () => {
    const accounts: string[] = [];
    for (let i = 0; i < PAIRS; i += 1) accounts.push((await signUp(t.gql)).user.email);
    const known: number[] = [];
    const unknown: number[] = [];
    for (const [i, email] of accounts.entries()) {
      const nobody = uniqueEmail('nobody');
      // Alternated, so that a slow moment of the machine weighs on both.
      if (i % 2 === 0) {
        known.push(await timedRequest(email));
        unknown.push(await timedRequest(nobody));
      } else {
        unknown.push(await timedRequest(nobody));
        known.push(await timedRequest(email));
      }
    }
    // The median of each pair's ratio: a pair's two requests run moments apart, so a busy moment of the
    // shared machine weighs on both alike.
    const ratio = median(unknown.map((time, i) => time / known[i]!));
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  }, 120_000);
});
