/**
 * What a user may do: USER, everyone; ADMIN, the admin API as well. A closed set (a CHECK constraint
 * in drizzle/0018 too). The first admin is granted from the command line (`tidepass grant-admin`).
 */
export const roles = ['USER', 'ADMIN'] as const;
export type Role = (typeof roles)[number];
