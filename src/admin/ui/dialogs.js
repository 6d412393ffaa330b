// The two modal dialogs: confirming an action (optionally with a value to type) and entering the admin token.
// Both are native <dialog>s shown modally, so the page behind is inert; Tab and Shift+Tab also wrap inside the
// dialog, Escape cancels, and focus goes back to the control that opened it.
import { tokenProblem } from './api.js';
import { h } from './dom.js';

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select:not([disabled]), a[href], [tabindex]:not([tabindex="-1"])';

/**
 * Shows `dialog` with `content` until the returned `close(result)` is called; resolves with that result.
 * `setup(close)` builds the content and returns the element to focus first.
 */
function showModal(dialog, setup) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const openerKey = opener instanceof HTMLElement ? opener.getAttribute('data-key') : null;
    const trap = (event) => {
      if (event.key !== 'Tab') return;
      const focusable = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
      if (focusable.length === 0) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
        event.preventDefault();
        first.focus();
      }
    };
    const onCancel = (event) => {
      event.preventDefault();
      close(undefined);
    };
    let closed = false;
    const close = (result) => {
      if (closed) return;
      closed = true;
      dialog.removeEventListener('keydown', trap);
      dialog.removeEventListener('cancel', onCancel);
      dialog.close();
      dialog.replaceChildren();
      // The live refresh may have replaced the opener meanwhile: find its successor by key.
      const back = opener instanceof HTMLElement && opener.isConnected ? opener : openerKey === null ? null : document.querySelector(`[data-key="${CSS.escape(openerKey)}"]`);
      if (back instanceof HTMLElement && !back.hasAttribute('disabled')) back.focus();
      resolve(result);
    };
    const first = setup(close);
    dialog.addEventListener('keydown', trap);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    first?.focus();
  });
}

/**
 * Asks the operator to confirm an action. With `field`, also asks for a value: `field.parse(text)` returns
 * `{ value }` or `{ error }` (shown under the field, the dialog stays open).
 * Resolves with `{ value }` when confirmed, undefined when cancelled.
 */
export function confirmAction({ title, lines = [], confirmLabel = 'Confirm', danger = false, field }) {
  const dialog = document.getElementById('confirm-dialog');
  return showModal(dialog, (close) => {
    const error = h('p', { class: 'field-error', id: 'confirm-field-error', role: 'alert' });
    let input = null;
    if (field !== undefined) {
      const attrs = {
        id: 'confirm-field',
        class: 'input',
        name: 'value',
        autocomplete: 'off',
        spellcheck: 'false',
        'aria-describedby': 'confirm-field-hint confirm-field-error',
      };
      input = field.type === 'password' ? h('input', { ...attrs, type: 'password' }) : h('textarea', { ...attrs, rows: 3 });
      input.value = field.value ?? '';
    }
    const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
    const confirm = h('button', { type: 'submit', class: ['button', danger ? 'button-danger' : 'button-primary'] }, confirmLabel);
    const form = h(
      'form',
      { class: 'dialog-form' },
      h('h2', { id: 'confirm-title', class: 'dialog-title' }, title),
      h('div', { id: 'confirm-body', class: 'dialog-body' }, lines.map((line) => h('p', null, line))),
      field === undefined
        ? null
        : h(
            'div',
            { class: 'field' },
            h('label', { for: 'confirm-field', class: 'field-label' }, field.label),
            input,
            field.hint === undefined ? null : h('p', { class: 'field-hint', id: 'confirm-field-hint' }, field.hint),
            error,
          ),
      h('div', { class: 'dialog-buttons' }, cancel, confirm),
    );
    cancel.addEventListener('click', () => close(undefined));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (field === undefined) {
        close({ value: undefined });
        return;
      }
      const parsed = field.parse(input.value);
      if (parsed.error !== undefined) {
        error.textContent = parsed.error;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      close({ value: parsed.value });
    });
    // Plain Enter in the multi-line field confirms; Shift+Enter adds a line.
    input?.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && input.tagName === 'TEXTAREA') {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    dialog.replaceChildren(form);
    // Destructive confirmations start on Cancel, so a stray Enter does nothing harmful.
    return input ?? (danger ? cancel : confirm);
  });
}

/**
 * Asks for the admin token. Resolves with the token typed, '' when the operator chose to forget the token,
 * or undefined when cancelled.
 */
export function askToken({ reason, hasToken }) {
  const dialog = document.getElementById('token-dialog');
  return showModal(dialog, (close) => {
    const input = h('input', {
      id: 'token-field',
      class: 'input',
      type: 'password',
      name: 'token',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': 'token-field-hint token-field-error',
    });
    const error = h('p', { class: 'field-error', id: 'token-field-error', role: 'alert' });
    const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
    const forget = hasToken ? h('button', { type: 'button', class: 'button' }, 'Forget token') : null;
    const form = h(
      'form',
      { class: 'dialog-form' },
      h('h2', { id: 'token-title', class: 'dialog-title' }, 'Admin token'),
      h(
        'div',
        { id: 'token-body', class: 'dialog-body' },
        reason === undefined ? null : h('p', { class: 'dialog-reason' }, reason),
        h('p', null, 'The token is sent as a bearer token with every request this tab makes to this instance. It is kept for this tab only, until you close it.'),
      ),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'token-field', class: 'field-label' }, 'Token'),
        input,
        h('p', { class: 'field-hint', id: 'token-field-hint' }, 'As configured in admin.token (KARYON_ADMIN_TOKEN) or given to you by the platform team.'),
        error,
      ),
      h('div', { class: 'dialog-buttons' }, forget, cancel, h('button', { type: 'submit', class: 'button button-primary' }, 'Use token')),
    );
    cancel.addEventListener('click', () => close(undefined));
    forget?.addEventListener('click', () => close(''));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const token = input.value.trim();
      const problem = tokenProblem(token);
      if (problem !== undefined) {
        error.textContent = problem;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      close(token);
    });
    dialog.replaceChildren(form);
    return input;
  });
}
