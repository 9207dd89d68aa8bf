import { gt, isNull, type SQL } from 'drizzle-orm';
import { sessions } from './schema.js';

/** The sessions live at `now`: not ended, not past their absolute end, used after `idleHorizon`. */
export interface LiveWindow {
  readonly now: Date;
  readonly idleHorizon: Date;
}

/** The conditions of a session live in `window`. */
export function liveAt(window: LiveWindow): SQL[] {
  return [isNull(sessions.endedAt), gt(sessions.expiresAt, window.now), gt(sessions.lastUsedAt, window.idleHorizon)];
}
