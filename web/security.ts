import { documents, GraphQLFailure } from './api.js';
import type { SessionKeeper } from './session.js';

/**
 * The "Security" section of the devices page: the authenticator app (TOTP) and recovery codes. A
 * change the server refuses as not recent (REAUTHENTICATION_REQUIRED) asks for the password (and a
 * code, once TOTP is on) and is tried again.
 */

interface Security {
  totpEnabled: boolean;
  recoveryCodesLeft: number;
}

const byId = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
};

export function mountSecurity(keeper: SessionKeeper, describe: (error: unknown) => string): { load(): Promise<void>; clear(): void } {
  const ui = {
    summary: byId('security-summary'),
    work: byId('security-work'),
    status: byId('security-status'),
    setup: byId<HTMLButtonElement>('setup-totp'),
    regenerate: byId<HTMLButtonElement>('regenerate-codes'),
    disable: byId<HTMLButtonElement>('disable-totp'),
  };
  let current: Security = { totpEnabled: false, recoveryCodesLeft: 0 };

  async function load(): Promise<void> {
    try {
      const { mySecurity } = await keeper.call<{ mySecurity: Security }>(documents.mySecurity);
      current = mySecurity;
      ui.summary.textContent = mySecurity.totpEnabled
        ? `Authenticator app: on. Recovery codes left: ${mySecurity.recoveryCodesLeft}.`
        : 'Authenticator app: off. Signing in needs only your password.';
      ui.setup.hidden = mySecurity.totpEnabled;
      ui.regenerate.hidden = !mySecurity.totpEnabled;
      ui.disable.hidden = !mySecurity.totpEnabled;
    } catch (error) {
      ui.status.textContent = describe(error);
    }
  }

  function clear(): void {
    ui.work.replaceChildren();
    ui.status.textContent = '';
    ui.summary.textContent = '';
  }

  /** Runs `action`; when the server wants a fresh proof, asks for it, then runs `action` once more. */
  async function withStepUp(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (!(error instanceof GraphQLFailure) || error.code !== 'REAUTHENTICATION_REQUIRED') throw error;
      await askForProof();
      await action();
    }
  }

  function askForProof(): Promise<void> {
    return new Promise((resolve) => {
      const form = codeForm({
        intro: 'For your security, confirm it is you.',
        password: true,
        code: current.totpEnabled,
        submit: 'Confirm',
        onSubmit: async ({ password, code }) => {
          await keeper.reauthenticate(password ?? '', code);
          form.remove();
          resolve();
        },
      });
      ui.work.replaceChildren(form);
      form.querySelector('input')?.focus();
    });
  }

  function showRecoveryCodes(codes: readonly string[]): void {
    const intro = document.createElement('p');
    intro.textContent = 'Save these recovery codes somewhere safe. Each signs you in once if you lose your phone. They are shown only now.';
    const list = document.createElement('ul');
    list.setAttribute('aria-label', 'Recovery codes');
    list.className = 'recovery-codes';
    list.append(...codes.map((code) => Object.assign(document.createElement('li'), { textContent: code })));
    ui.work.replaceChildren(intro, list);
  }

  ui.setup.addEventListener('click', () => {
    ui.status.textContent = '';
    void withStepUp(async () => {
      const { startTotpEnrollment } = await keeper.call<{ startTotpEnrollment: { secret: string; qrCodeSvg: string } }>(
        documents.startTotpEnrollment,
      );
      const qr = document.importNode(new DOMParser().parseFromString(startTotpEnrollment.qrCodeSvg, 'image/svg+xml').documentElement, true);
      qr.setAttribute('role', 'img');
      qr.setAttribute('aria-label', 'QR code for your authenticator app');
      qr.classList.add('qr-code');
      const secret = document.createElement('p');
      secret.append('Or type this key: ', Object.assign(document.createElement('code'), { textContent: startTotpEnrollment.secret }));
      const form = codeForm({
        intro: 'Scan the QR code with your authenticator app, then enter the code it shows.',
        password: false,
        code: true,
        submit: 'Verify',
        onSubmit: async ({ code }) => {
          const { confirmTotpEnrollment } = await keeper.call<{ confirmTotpEnrollment: string[] }>(documents.confirmTotpEnrollment, { code });
          showRecoveryCodes(confirmTotpEnrollment);
          ui.status.textContent = 'The authenticator app is on.';
          await load();
        },
      });
      ui.work.replaceChildren(qr, secret, form);
      form.querySelector('input')?.focus();
    }).catch((error: unknown) => (ui.status.textContent = describe(error)));
  });

  ui.regenerate.addEventListener('click', () => {
    ui.status.textContent = '';
    void withStepUp(async () => {
      const { regenerateRecoveryCodes } = await keeper.call<{ regenerateRecoveryCodes: string[] }>(documents.regenerateRecoveryCodes);
      showRecoveryCodes(regenerateRecoveryCodes);
      ui.status.textContent = 'New recovery codes: the old ones no longer work.';
      await load();
    }).catch((error: unknown) => (ui.status.textContent = describe(error)));
  });

  ui.disable.addEventListener('click', () => {
    ui.status.textContent = '';
    const form = codeForm({
      intro: 'Enter a code from your authenticator app (or a recovery code) to turn it off.',
      password: false,
      code: true,
      submit: 'Turn off',
      onSubmit: async ({ code }) => {
        await withStepUp(async () => {
          await keeper.call(documents.disableTotp, { code });
        });
        ui.work.replaceChildren();
        ui.status.textContent = 'The authenticator app is off.';
        await load();
      },
    });
    ui.work.replaceChildren(form);
    form.querySelector('input')?.focus();
  });

  function codeForm(options: {
    intro: string;
    password: boolean;
    code: boolean;
    submit: string;
    onSubmit: (values: { password: string | null; code: string }) => Promise<void>;
  }): HTMLFormElement {
    const form = document.createElement('form');
    form.noValidate = true;
    form.append(Object.assign(document.createElement('p'), { textContent: options.intro }));
    const password = options.password ? field(form, 'reauth-password', 'Password', 'password', 'current-password') : null;
    const code = options.code ? field(form, 'security-code', 'Authentication code', 'text', 'one-time-code') : null;
    const error = Object.assign(document.createElement('p'), { role: 'alert' });
    error.setAttribute('role', 'alert');
    const button = Object.assign(document.createElement('button'), { type: 'submit', textContent: options.submit });
    form.append(error, button);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      button.disabled = true;
      error.textContent = '';
      options
        .onSubmit({ password: password?.value ?? null, code: code?.value.trim() ?? '' })
        .catch((failure: unknown) => (error.textContent = describe(failure)))
        .finally(() => (button.disabled = false));
    });
    return form;
  }

  return { load, clear };
}

function field(form: HTMLFormElement, id: string, text: string, type: string, autocomplete: AutoFill): HTMLInputElement {
  const paragraph = document.createElement('p');
  const label = Object.assign(document.createElement('label'), { htmlFor: id, textContent: text });
  const input = Object.assign(document.createElement('input'), { id, type, autocomplete });
  if (type === 'text') input.inputMode = 'numeric';
  paragraph.append(label, input);
  form.append(paragraph);
  return input;
}
