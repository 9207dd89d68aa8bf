import { documents, graphql, GraphQLFailure } from './api.js';
import { errorInWords, guessDeviceName } from './words.js';

/**
 * The pages the links in mails open: /verify-email, /reset-password, /confirm-email-change. Opening
 * one spends nothing (mail scanners open links); its one button calls the mutation with the token.
 */

type Action = 'verify-email' | 'reset-password' | 'confirm-email-change';

interface LinkPage {
  /** Calls the mutation; resolves to what to say once it is done. */
  readonly spend: (token: string, form: HTMLFormElement) => Promise<string>;
  /** What a refusal means here, where it differs from the devices page's words. */
  readonly words?: Readonly<Record<string, string>>;
}

const PAGES: Readonly<Record<Action, LinkPage>> = {
  'verify-email': {
    async spend(token) {
      const { verifyEmail } = await graphql<{ verifyEmail: { email: string } }>(documents.verifyEmail, { token });
      return `Your email address ${verifyEmail.email} is verified.`;
    },
  },
  'reset-password': {
    async spend(token, form) {
      const newPassword = (form.elements.namedItem('newPassword') as HTMLInputElement).value;
      // COOKIE delivery: this browser is signed in, and the devices page picks the session up from the cookie.
      await graphql(documents.resetPassword, { token, newPassword, deviceName: guessDeviceName(navigator.userAgent) });
      return 'Your password is changed. Every other device was signed out, and this browser is signed in.';
    },
  },
  'confirm-email-change': {
    async spend(token) {
      const { confirmEmailChange } = await graphql<{ confirmEmailChange: { email: string } }>(
        documents.confirmEmailChange,
        { token },
      );
      return `The email address of your account is now ${confirmEmailChange.email}. Your other devices were signed out.`;
    },
    words: {
      EMAIL_TAKEN: 'Another account uses this address now, so yours cannot change to it.',
    },
  },
};

const TOKEN_STATE = 'token';

/**
 * The link's token, taken out of the address bar at once: out of sight, out of the Referer (already
 * refused by the policy) and out of the address a user might copy. It stays in this history entry's
 * state, so that a reload of the page still has it.
 */
function takeToken(): string | null {
  const fromAddress = new URLSearchParams(location.search).get('token');
  const state: unknown = history.state;
  const fromState =
    state && typeof state === 'object' && TOKEN_STATE in state ? String((state as Record<string, unknown>)[TOKEN_STATE]) : null;
  const token = fromAddress ?? fromState;
  if (fromAddress !== null) history.replaceState({ [TOKEN_STATE]: fromAddress }, '', location.pathname);
  return token || null;
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

function start(): void {
  const form = element<HTMLFormElement>('link-form');
  const submit = element<HTMLButtonElement>('link-submit');
  const error = element('link-error');
  const result = element('link-result');
  const page = PAGES[form.dataset['action'] as Action];
  const token = takeToken();
  if (!token) {
    error.textContent = 'This page needs the whole link from the mail. Open the link again, or ask for a new one.';
    return;
  }
  submit.disabled = false;
  const fields = [...form.querySelectorAll('input')];
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    page.spend(token, form).then(
      (done) => {
        // Spent: nothing more to press, and nothing to keep.
        history.replaceState(null, '', location.pathname);
        form.hidden = true;
        result.textContent = done;
        result.focus();
      },
      (failure: unknown) => {
        error.textContent = inWords(failure, page);
        const code = failure instanceof GraphQLFailure ? failure.code : undefined;
        // A dead token stays dead; anything else (a refused password, the network) may be tried again.
        if (code === 'INVALID_EMAIL_TOKEN') return history.replaceState(null, '', location.pathname);
        submit.disabled = false;
        if (code === 'BAD_USER_INPUT') fields[0]?.focus();
      },
    );
  });
}

function inWords(failure: unknown, page: LinkPage): string {
  if (!(failure instanceof GraphQLFailure)) return 'Something went wrong. Try again.';
  return (failure.code && page.words?.[failure.code]) || errorInWords(failure.code, failure.message);
}

start();
