/**
 * The most common passwords, from zxcvbn-ts's maintained list (about 49,000 entries, lower case):
 * the first guesses of any attacker, refused at sign-up and password change.
 */
let common: Promise<ReadonlySet<string>> | undefined;

function commonPasswords(): Promise<ReadonlySet<string>> {
  // Loaded on first use: the package decompresses its list when imported.
  common ??= import('@zxcvbn-ts/language-common').then(({ dictionary }) => new Set(dictionary['passwords-common']));
  return common;
}

export async function isCommonPassword(password: string): Promise<boolean> {
  return (await commonPasswords()).has(password.toLowerCase());
}
