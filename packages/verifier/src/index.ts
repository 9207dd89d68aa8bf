export { createVerifier } from './verifier.js';
export type { RevokedListener, Verifier, VerifierStats, VerifyFailureCode, VerifyResult } from './verifier.js';
export type { VerifierOptions } from './options.js';
export type { Claims } from './token-rules.js';
export type { Revoked } from './wire.js';
export { FeedRefusedError } from './feed-client.js';
