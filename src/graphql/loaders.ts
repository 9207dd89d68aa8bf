import DataLoader from 'dataloader';
import type { AuthService } from '../auth/service.js';
import type { User } from '../auth/users.js';

/** Per-operation loaders: each user is read at most once per operation, and only when a field needs it. */
export interface Loaders {
  readonly users: DataLoader<string, User>;
}

export function createLoaders(auth: AuthService): Loaders {
  // DataLoader rejects the load of an id whose slot holds an Error: here SESSION_REVOKED.
  return { users: new DataLoader<string, User>((ids) => auth.findUsers(ids)) };
}
