// Sheets: a bottom sheet on phones, a centred panel on desktop. Each is a modal <dialog>, so focus stays
// inside it, Escape closes it and the page behind cannot be clicked or read by a screen reader meanwhile.
import { hideToast } from './api.js';
import { el, icon } from './dom.js';

export class Sheet {
  /** `name` names the sheet's test ids ("<name>", "<name>-title", "<name>-close"). */
  constructor(name, title = '') {
    this.title = el('h2', { class: 'sheet-title', id: `${name}-title`, 'data-testid': `${name}-title`, text: title });
    this.body = el('div', { class: 'sheet-body' });
    // Messages about the sheet's own actions are said here: a toast would sit behind the modal backdrop.
    this.statusLine = el('p', { class: 'sheet-status', role: 'status', 'data-testid': `${name}-status` });
    this.root = el('dialog', { class: 'sheet', 'data-testid': name, 'aria-labelledby': `${name}-title` },
      el('div', { class: 'sheet-box' },
        el('header', { class: 'sheet-head' },
          this.title,
          el('button', {
            class: 'icon-btn sheet-close', type: 'button', 'aria-label': 'Close', 'data-testid': `${name}-close`,
            onclick: () => this.close(),
          }, icon('close'))),
        this.statusLine,
        this.body));
    this.onClose = null;
    // The dialog box is padded by nothing, so an event whose target is the dialog itself is on the backdrop.
    // Only a click that also started there closes it: the finger lifting after the long press that opened
    // the sheet lands on the backdrop too.
    let downOnBackdrop = false;
    this.root.addEventListener('pointerdown', (event) => { downOnBackdrop = event.target === this.root; });
    this.root.addEventListener('click', (event) => {
      if (event.target === this.root && downOnBackdrop) this.close();
      downOnBackdrop = false;
    });
    this.root.addEventListener('close', () => { if (this.onClose) this.onClose(); });
    document.body.append(this.root);
  }

  get isOpen() {
    return this.root.open;
  }

  /** Show `children` in the sheet (replacing what it showed), opening it if it is closed. */
  show(title, ...children) {
    this.title.textContent = title;
    this.body.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
    if (!this.root.open) {
      this.say('');
      hideToast(); // it would sit, dimmed and out of reach, behind the backdrop
      this.root.showModal();
      this.body.scrollTop = 0;
    }
  }

  /** A short message under the sheet's title (empty to clear it). */
  say(message, { error = false } = {}) {
    this.statusLine.textContent = message;
    this.statusLine.classList.toggle('error', error);
  }

  close() {
    if (this.root.open) this.root.close();
  }
}

/** A full-width row button of a menu sheet: an icon and a label. */
export function menuButton(iconName, label, onclick, testid) {
  return el('button', { class: 'menu-item', type: 'button', 'data-testid': testid, onclick },
    icon(iconName), el('span', { text: label }));
}
