import { documents, graphql } from './api.js';
import type { SessionKeeper } from './session.js';

/**
 * The log-in form's ways in by mail: "Forgot password?" (a reset link) and a one-time sign-in code.
 * Both use the form's Email field; the server answers true whether or not an account has that
 * address, so the page says what happens "if" it has.
 */

export interface MailSignInOptions {
  readonly keeper: SessionKeeper;
  readonly email: HTMLInputElement;
  readonly deviceName: HTMLInputElement;
  /** The log-in form's error line (role=alert). */
  readonly formError: HTMLElement;
  readonly describe: (error: unknown) => string;
}

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
};

export function setUpMailSignIn(options: MailSignInOptions): void {
  const ui = {
    forgotPassword: element<HTMLButtonElement>('forgot-password'),
    codeForm: element<HTMLFormElement>('code-form'),
    requestCode: element<HTMLButtonElement>('request-code'),
    codeEntry: element('code-entry'),
    code: element<HTMLInputElement>('sign-in-code'),
    codeSubmit: element<HTMLButtonElement>('code-submit'),
    status: element('mail-status'),
  };

  /** The address typed in the form, or null (with the reason said and the field focused) when there is none. */
  const emailOrAsk = (): string | null => {
    const email = options.email.value.trim();
    if (email) return email;
    options.formError.textContent = 'Enter your email address first.';
    options.email.focus();
    return null;
  };

  /** Runs one action with its button disabled, its outcome said in the status or the error line. */
  const run = (button: HTMLButtonElement, action: () => Promise<string | null>) => {
    button.disabled = true;
    options.formError.textContent = '';
    ui.status.textContent = '';
    action()
      .then((said) => {
        if (said) ui.status.textContent = said;
      })
      .catch((error: unknown) => {
        options.formError.textContent = options.describe(error);
      })
      .finally(() => {
        button.disabled = false;
      });
  };

  ui.forgotPassword.addEventListener('click', () => {
    const email = emailOrAsk();
    if (!email) return;
    run(ui.forgotPassword, async () => {
      await graphql(documents.requestPasswordReset, { email });
      return `If an account uses ${email}, we sent it a link to set a new password. Check your mail.`;
    });
  });

  ui.requestCode.addEventListener('click', () => {
    const email = emailOrAsk();
    if (!email) return;
    run(ui.requestCode, async () => {
      await graphql(documents.requestSignInCode, { email });
      ui.codeEntry.hidden = false;
      ui.code.focus();
      return `If an account uses ${email}, we sent it a sign-in code. Enter it below.`;
    });
  });

  ui.codeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const email = emailOrAsk();
    if (!email) return;
    // Codes are read aloud and copied with spaces: digits only.
    const code = ui.code.value.replace(/\s+/g, '');
    run(ui.codeSubmit, async () => {
      await options.keeper.signInWithCode({ email, code, deviceName: options.deviceName.value.trim() });
      return null;
    });
  });

  options.keeper.onChange((state) => {
    if (state.kind !== 'signed-in') return;
    // Spent: a later sign-out starts from a clean form.
    ui.code.value = '';
    ui.codeEntry.hidden = true;
    ui.status.textContent = '';
  });
}
