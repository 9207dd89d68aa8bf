import './style.css';
import { documents, GraphQLFailure, type SessionRow } from './api.js';
import { subscribeToRevocations, type SessionRevoked } from './live.js';
import { setUpPasskeys } from './passkeys.js';
import { mountSecurity } from './security.js';
import { SessionKeeper, type SessionState } from './session.js';
import { setUpMailSignIn } from './sign-in-by-mail.js';
import { errorInWords, guessDeviceName, revocationReasonInWords, timeAgoInWords, userAgentInWords } from './words.js';

/** The "Your devices" page: sign in with the refresh token in an HttpOnly cookie, see and end sessions live. */

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
};

const ui = {
  loading: element('loading'),
  signedOut: element('signed-out'),
  signedOutTitle: element('signed-out-title'),
  signedOutReason: element('signed-out-reason'),
  form: element<HTMLFormElement>('credentials'),
  email: element<HTMLInputElement>('email'),
  password: element<HTMLInputElement>('password'),
  deviceName: element<HTMLInputElement>('device-name'),
  formError: element('form-error'),
  secondStep: element<HTMLFormElement>('second-step'),
  mfaCode: element<HTMLInputElement>('mfa-code'),
  secondStepError: element('second-step-error'),
  signedIn: element('signed-in'),
  signedInTitle: element('signed-in-title'),
  emailShown: element('email-shown'),
  devices: element<HTMLUListElement>('devices'),
  devicesStatus: element('devices-status'),
  logout: element<HTMLButtonElement>('logout'),
  logoutOthers: element<HTMLButtonElement>('logout-others'),
};

const keeper = new SessionKeeper();
const security = mountSecurity(keeper, describe);
let unsubscribe: (() => void) | null = null;
/** The first step's mfaToken while the log-in form asks for the second. */
let mfaToken: string | null = null;
const passkeys = setUpPasskeys(keeper, {
  deviceName: () => ui.deviceName.value.trim(),
  pendingMfaToken: () => mfaToken,
  describe: (error) => describe(error),
  onSignInError: (message) => ((ui.secondStep.hidden ? ui.formError : ui.secondStepError).textContent = message),
});

keeper.onChange((state: SessionState) => {
  if (state.kind === 'signed-out') return showSignedOut(state.reason);
  if (!state.renewed || ui.signedIn.hidden) return showSignedIn(state.user.email);
  // A refresh: "last used" of this device changed, and the token is fresh; reload quietly.
  void loadDevices();
});

function showSignedOut(reason: string | null): void {
  // Moving focus tells keyboard and screen-reader users the view changed; not on first load.
  const wasSignedIn = !ui.signedIn.hidden;
  unsubscribe?.();
  unsubscribe = null;
  ui.loading.hidden = true;
  ui.signedIn.hidden = true;
  ui.devices.replaceChildren();
  passkeys.clear();
  delete ui.devices.dataset['live'];
  ui.signedOut.hidden = false;
  ui.signedOutReason.textContent = reason ?? '';
  ui.password.value = '';
  showFirstStep();
  security.clear();
  if (wasSignedIn) ui.signedOutTitle.focus();
}

function showSignedIn(email: string): void {
  ui.loading.hidden = true;
  ui.signedOut.hidden = true;
  ui.signedOutReason.textContent = '';
  ui.formError.textContent = '';
  ui.emailShown.textContent = email;
  say('');
  ui.signedIn.hidden = false;
  ui.signedInTitle.focus();
  void security.load();
  unsubscribe?.();
  unsubscribe = subscribeToRevocations(keeper, {
    onEvent: onRevoked,
    onConnected: () => {
      ui.devices.dataset['live'] = 'true';
      void loadDevices();
    },
    onClosed: () => {
      ui.devices.dataset['live'] = 'false';
    },
  });
  void loadDevices();
  void passkeys.load();
}

function onRevoked(event: SessionRevoked): void {
  // Already signed out (e.g. by "Log out" here): the reason shown stays the one that applied.
  if (!keeper.user) return;
  if (event.current || event.sessionId === keeper.user?.sessionId) {
    keeper.end(revocationReasonInWords(event.reason));
    return;
  }
  removeDevice(event.sessionId);
}

/** The result of an action, until the next one. */
function say(message: string): void {
  ui.devicesStatus.textContent = message;
  showingLoadError = false;
}

function removeDevice(sessionId: string): void {
  ui.devices.querySelector(`li[data-session-id="${CSS.escape(sessionId)}"]`)?.remove();
}

let loadCount = 0;
/** Whether the status line says the list could not be loaded (cleared by the next load, unlike action results). */
let showingLoadError = false;
async function loadDevices(): Promise<void> {
  const load = ++loadCount;
  try {
    const { mySessions } = await keeper.call<{ mySessions: SessionRow[] }>(documents.mySessions);
    // An older answer arriving after a newer one must not bring back a device that has ended.
    if (load !== loadCount || !keeper.user) return;
    ui.devices.replaceChildren(...mySessions.map(deviceRow));
    if (showingLoadError) ui.devicesStatus.textContent = '';
    showingLoadError = false;
  } catch (error) {
    if (!keeper.user) return;
    ui.devicesStatus.textContent = describe(error);
    showingLoadError = true;
  }
}

function deviceRow(session: SessionRow): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset['sessionId'] = session.id;
  const text = document.createElement('div');
  const name = document.createElement('span');
  name.className = 'device-name';
  name.textContent = session.deviceName ?? 'Unnamed device';
  text.append(name);
  if (session.current) {
    const mark = document.createElement('span');
    mark.className = 'this-device';
    mark.textContent = 'This device';
    text.append(mark);
  }
  const details = document.createElement('span');
  details.className = 'device-details';
  const lastUsed = document.createElement('time');
  lastUsed.dateTime = session.lastUsedAt;
  lastUsed.title = new Date(session.lastUsedAt).toLocaleString();
  lastUsed.textContent = timeAgoInWords(new Date(session.lastUsedAt));
  details.append(
    `${userAgentInWords(session.userAgent)} · IP ${session.ip ?? 'unknown'} · last used `,
    lastUsed,
  );
  text.append(details);
  item.append(text);
  if (!session.current) {
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'secondary';
    revoke.textContent = 'Revoke';
    revoke.addEventListener('click', () => void revokeDevice(session.id, revoke));
    item.append(revoke);
  }
  return item;
}

async function revokeDevice(sessionId: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await keeper.call(documents.revokeDevice, { sessionId });
    removeDevice(sessionId);
    say('The device was signed out.');
    ui.signedInTitle.focus();
  } catch (error) {
    button.disabled = false;
    // Already ended elsewhere: it is gone either way.
    if (error instanceof GraphQLFailure && error.code === 'NOT_FOUND') removeDevice(sessionId);
    else say(describe(error));
  }
}

ui.logout.addEventListener('click', () => {
  ui.logout.disabled = true;
  keeper
    .logOut()
    .catch(() => {
      // Signed out locally whatever the server said; the cookie is HttpOnly and the server expires it.
    })
    .finally(() => {
      ui.logout.disabled = false;
    });
});

ui.logoutOthers.addEventListener('click', () => {
  ui.logoutOthers.disabled = true;
  keeper
    .call<{ revokeOtherSessions: number }>(documents.revokeOtherSessions)
    .then(({ revokeOtherSessions: count }) => {
      say(
        count === 0 ? 'No other device was signed in.' : `Signed out ${count} other device${count === 1 ? '' : 's'}.`,
      );
      return loadDevices();
    })
    .catch((error: unknown) => say(describe(error)))
    .finally(() => {
      ui.logoutOthers.disabled = false;
    });
});

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const submitter = event.submitter as HTMLButtonElement | null;
  const action = submitter?.value === 'signUp' ? 'signUp' : 'login';
  const credentials = {
    email: ui.email.value.trim(),
    password: ui.password.value,
    deviceName: ui.deviceName.value.trim(),
  };
  const buttons = [...ui.form.querySelectorAll('button')];
  buttons.forEach((button) => (button.disabled = true));
  ui.formError.textContent = '';

  (action === 'signUp' ? keeper.signUp(credentials) : keeper.logIn(credentials))
    .catch((error: unknown) => {
      if (error instanceof GraphQLFailure && error.code === 'MFA_REQUIRED') return showSecondStep(String(error.extensions['mfaToken']));
      ui.formError.textContent = describe(error);
    })
    .finally(() => buttons.forEach((button) => (button.disabled = false)));
});

/** The log-in form's second step: a code from the authenticator app, or a recovery code. */
function showSecondStep(token: string): void {
  mfaToken = token;
  ui.form.hidden = true;
  ui.secondStep.hidden = false;
  ui.mfaCode.value = '';
  ui.secondStepError.textContent = '';
  ui.mfaCode.focus();
}

function showFirstStep(): void {
  mfaToken = null;
  ui.secondStep.hidden = true;
  ui.form.hidden = false;
}

ui.secondStep.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!mfaToken) return showFirstStep();
  const button = ui.secondStep.querySelector('button')!;
  button.disabled = true;
  ui.secondStepError.textContent = '';
  keeper
    .completeLogin(mfaToken, ui.mfaCode.value.trim())
    .catch((error: unknown) => {
      // Expired or used: the first step again.
      if (error instanceof GraphQLFailure && error.code === 'INVALID_MFA_TOKEN') {
        showFirstStep();
        ui.formError.textContent = describe(error);
        return;
      }
      ui.secondStepError.textContent = describe(error);
    })
    .finally(() => (button.disabled = false));
});

function describe(error: unknown): string {
  if (error instanceof GraphQLFailure) return errorInWords(error.code, error.message);
  return 'Something went wrong. Try again.';
}

ui.deviceName.value = guessDeviceName(navigator.userAgent);
setUpMailSignIn({ keeper, email: ui.email, deviceName: ui.deviceName, formError: ui.formError, describe });

keeper.resume().then(
  (signedIn) => {
    if (!signedIn) showSignedOut(null);
  },
  (error: unknown) => {
    showSignedOut(describe(error));
  },
);

// A tab that slept through its refresh time: refresh when it is looked at again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && keeper.user) void keeper.accessToken().catch(() => {});
});
