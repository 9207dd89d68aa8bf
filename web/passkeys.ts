import {
  browserSupportsWebAuthn,
  startAuthentication,
  startRegistration,
  WebAuthnError,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import { graphql, GraphQLFailure, type AuthPayload } from './api.js';
import type { SessionKeeper } from './session.js';
import { timeAgoInWords } from './words.js';

/** Passkeys on the page: adding and removing them, and signing in with one (alone, or as the second step). */

export interface PasskeyRow {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const AUTH_FIELDS = 'accessToken accessTokenExpiresAt user { email } session { id }';

export const passkeyDocuments = {
  startRegistration: 'mutation StartPasskeyRegistration { startPasskeyRegistration }',
  finishRegistration: `mutation FinishPasskeyRegistration($response: JSON!, $name: String) {
    finishPasskeyRegistration(response: $response, name: $name) { id name createdAt lastUsedAt }
  }`,
  deletePasskey: 'mutation DeletePasskey($id: ID!) { deletePasskey(id: $id) }',
  startSignIn: `mutation StartPasskeySignIn($mfaToken: String) {
    startPasskeySignIn(mfaToken: $mfaToken) { challengeId options }
  }`,
  signIn: `mutation SignInWithPasskey($challengeId: ID!, $response: JSON!, $deviceName: String) {
    signInWithPasskey(challengeId: $challengeId, response: $response, deviceName: $deviceName, delivery: COOKIE) {
      ${AUTH_FIELDS}
    }
  }`,
} as const;

export const passkeysSupported = (): boolean => browserSupportsWebAuthn();

/**
 * Asks the browser for a passkey and signs in with it. Without mfaToken: any passkey of this site
 * (the browser lists them, no email typed); with one, as the second step of that password login.
 */
export async function signInWithPasskey(input: { deviceName: string; mfaToken?: string | null }): Promise<AuthPayload> {
  const { startPasskeySignIn: challenge } = await graphql<{
    startPasskeySignIn: { challengeId: string; options: PublicKeyCredentialRequestOptionsJSON };
  }>(passkeyDocuments.startSignIn, { mfaToken: input.mfaToken ?? null });
  const response = await ceremony(() => startAuthentication({ optionsJSON: challenge.options }));
  const data = await graphql<{ signInWithPasskey: AuthPayload }>(passkeyDocuments.signIn, {
    challengeId: challenge.challengeId,
    response,
    deviceName: input.deviceName || null,
  });
  return data.signInWithPasskey;
}

/** Registers a passkey of this device for the signed-in user. */
export async function addPasskey(keeper: SessionKeeper, name: string | null): Promise<PasskeyRow> {
  const { startPasskeyRegistration: options } = await keeper.call<{
    startPasskeyRegistration: PublicKeyCredentialCreationOptionsJSON;
  }>(passkeyDocuments.startRegistration);
  const response = await ceremony(() => startRegistration({ optionsJSON: options }));
  const data = await keeper.call<{ finishPasskeyRegistration: PasskeyRow }>(passkeyDocuments.finishRegistration, {
    response,
    name,
  });
  return data.finishPasskeyRegistration;
}

export async function removePasskey(keeper: SessionKeeper, id: string): Promise<void> {
  await keeper.call(passkeyDocuments.deletePasskey, { id });
}

/** One passkey in the list, with its "Remove" button. */
export function passkeyItem(passkey: PasskeyRow, onRemove: (button: HTMLButtonElement) => void): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset['passkeyId'] = passkey.id;
  const text = document.createElement('div');
  const name = document.createElement('span');
  name.className = 'device-name';
  name.textContent = passkey.name;
  const details = document.createElement('span');
  details.className = 'device-details';
  details.textContent = `Added ${timeAgoInWords(new Date(passkey.createdAt))} · ${
    passkey.lastUsedAt ? `last used ${timeAgoInWords(new Date(passkey.lastUsedAt))}` : 'never used'
  }`;
  text.append(name, details);
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'secondary';
  remove.textContent = 'Remove';
  // The list has many "Remove" buttons: say which passkey each removes to screen readers.
  remove.setAttribute('aria-description', `Remove the passkey ${passkey.name}`);
  remove.addEventListener('click', () => onRemove(remove));
  item.append(text, remove);
  return item;
}

/** The browser's own refusals (the person cancelled, no passkey here) as GraphQLFailures the page can word. */
async function ceremony<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof WebAuthnError || (error instanceof Error && error.name === 'NotAllowedError')) {
      throw new GraphQLFailure('PASSKEY_CANCELLED', 'No passkey was used.');
    }
    throw error;
  }
}

export const passkeysQuery = 'query MyPasskeys { mySecurity { passkeys { id name createdAt lastUsedAt } } }';

/**
 * Wires the page's passkey controls: "Sign in with a passkey" on the sign-in form (the second step
 * when a password login asked for one: `pendingMfaToken` then returns its token), and the signed-in
 * list with "Add a passkey" and a "Remove" per passkey.
 */
export function setUpPasskeys(
  keeper: SessionKeeper,
  page: {
    deviceName: () => string;
    pendingMfaToken: () => string | null;
    describe: (error: unknown) => string;
    onSignInError: (message: string) => void;
  },
): { load: () => Promise<void>; clear: () => void } {
  const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const signInButton = byId<HTMLButtonElement>('passkey-sign-in');
  const list = byId<HTMLUListElement>('passkeys');
  const status = byId('passkeys-status');
  const addButton = byId<HTMLButtonElement>('add-passkey');
  if (!passkeysSupported()) {
    signInButton.hidden = true;
    addButton.hidden = true;
  }

  signInButton.addEventListener('click', () => {
    signInButton.disabled = true;
    signInWithPasskey({ deviceName: page.deviceName(), mfaToken: page.pendingMfaToken() })
      .then((payload) => keeper.adopt(payload))
      .catch((error: unknown) => page.onSignInError(page.describe(error)))
      .finally(() => (signInButton.disabled = false));
  });

  const load = async () => {
    try {
      const { mySecurity } = await keeper.call<{ mySecurity: { passkeys: PasskeyRow[] } }>(passkeysQuery);
      list.replaceChildren(...mySecurity.passkeys.map((passkey) => passkeyItem(passkey, (button) => void remove(passkey, button))));
    } catch (error) {
      if (keeper.user) status.textContent = page.describe(error);
    }
  };

  const remove = async (passkey: PasskeyRow, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      await removePasskey(keeper, passkey.id);
      list.querySelector(`li[data-passkey-id="${CSS.escape(passkey.id)}"]`)?.remove();
      status.textContent = `The passkey ${passkey.name} was removed.`;
    } catch (error) {
      button.disabled = false;
      status.textContent = page.describe(error);
    }
  };

  addButton.addEventListener('click', () => {
    addButton.disabled = true;
    status.textContent = '';
    addPasskey(keeper, page.deviceName() || null)
      .then((passkey) => {
        status.textContent = `The passkey ${passkey.name} was added.`;
        return load();
      })
      .catch((error: unknown) => (status.textContent = page.describe(error)))
      .finally(() => (addButton.disabled = false));
  });

  return {
    load,
    clear: () => {
      list.replaceChildren();
      status.textContent = '';
    },
  };
}
