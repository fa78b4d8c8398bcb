// The For You settings sheet, opened from the feed: personalisation on/off, keyword filters, the
// not-interested marks (each undoable) and "Refresh For You".
import { api, here, toast, viewer } from './api.js';
import { el, icon } from './dom.js';
import { Sheet } from './sheet.js';

const PERSONALISED_ON = 'Ranked for you from what you watch, like, share and follow.';
const PERSONALISED_OFF = 'For You without profiling — ranked by what is popular in your region, per EU DSA Art. 38.';
const KIND_WORDS = { video: 'Video', creator: 'Creator', hashtag: 'Hashtag' };
const MAX_KEYWORD = 50;

export class FeedSettings {
  /** `feed` provides reload() and setPersonalised(bool); `settings` is what the page was rendered with. */
  constructor(feed, settings) {
    this.feed = feed;
    this.settings = settings;
    this.sheet = new Sheet('feed-settings', 'For You settings');
    this.stale = false; // something that changes the ranking was saved: the feed reloads when the sheet closes
    this.videoCaptions = new Map();
    this.sheet.onClose = () => {
      if (this.stale) {
        this.stale = false;
        this.feed.reload();
      }
    };
  }

  async open() {
    if (!viewer) {
      this.sheet.show('For You settings', this.renderSignedOut());
      return;
    }
    this.draft = null;
    this.render();
    try {
      this.update(await api('GET', '/api/me/feed-settings'));
    } catch (err) {
      this.sheet.say(err.message, { error: true });
    }
  }

  /** New settings from the server: remember them, and redraw the sheet if it is open. */
  update(settings) {
    this.settings = settings;
    this.feed.setPersonalised(settings.personalised);
    if (this.sheet.isOpen && viewer) this.render();
  }

  renderSignedOut() {
    const next = encodeURIComponent(here());
    return el('div', { class: 'settings-signin', 'data-testid': 'feed-settings-signin' },
      el('p', { text: 'Sign in to control For You: switch personalisation off, filter out keywords, '
        + 'and review what you marked “not interested”.' }),
      el('p', { class: 'muted', text: 'Signed out, For You shows what is popular in your region and new videos; '
        + 'nothing about you is used.' }),
      el('div', { class: 'sheet-actions' },
        el('a', { class: 'btn btn-primary', href: `/login?next=${next}`, text: 'Sign in' }),
        el('a', { class: 'btn', href: `/signup?next=${next}`, text: 'Create account' })));
  }

  render() {
    const focused = document.activeElement && this.sheet.root.contains(document.activeElement)
      ? document.activeElement.dataset.testid : null;
    this.sheet.show('For You settings',
      this.renderPersonalised(), this.renderKeywords(), this.renderMarks(), this.renderRefresh(),
      // EU DSA Art. 27: the main parameters of the recommender, in plain words, one tap away.
      el('p', { class: 'muted' }, el('a', { href: '/about/for-you', 'data-testid': 'about-for-you-link', text: 'How For You works' })));
    // Keep the keyboard where it was across a redraw.
    if (focused) {
      const again = this.sheet.root.querySelector(`[data-testid="${focused}"]`);
      if (again) again.focus();
    }
  }

  renderPersonalised() {
    const on = this.settings.personalised;
    const sw = el('button', {
      class: 'switch', type: 'button', role: 'switch', 'aria-checked': on ? 'true' : 'false',
      'aria-labelledby': 'personalised-label', 'aria-describedby': 'personalised-desc',
      'data-testid': 'personalised-switch', onclick: () => this.setPersonalised(!this.settings.personalised),
    }, el('span', { class: 'switch-knob', 'aria-hidden': 'true' }));
    return el('section', { class: 'settings-section' },
      el('div', { class: 'switch-row' },
        el('div', {},
          el('h3', { id: 'personalised-label', text: 'Personalised For You' }),
          el('p', { id: 'personalised-desc', class: 'muted', 'data-testid': 'personalised-desc', text: on ? PERSONALISED_ON : PERSONALISED_OFF })),
        sw));
  }

  async setPersonalised(want) {
    const sw = this.sheet.root.querySelector('[data-testid=personalised-switch]');
    if (sw) sw.disabled = true;
    try {
      this.update(await api('PUT', '/api/me/feed-settings', { personalised: want }));
      this.sheet.say(want ? 'For You is personalised again' : 'For You is no longer personalised');
      await this.feed.reload();
    } catch (err) {
      this.sheet.say(err.message, { error: true });
      if (sw) sw.disabled = false;
    }
  }

  get keywords() {
    return this.draft || this.settings.keyword_filters;
  }

  renderKeywords() {
    const input = el('input', {
      class: 'input', type: 'text', maxlength: MAX_KEYWORD, placeholder: 'A word or phrase', autocomplete: 'off',
      'aria-label': 'Keyword to filter out', 'data-testid': 'keyword-input',
    });
    const add = (event) => {
      event.preventDefault();
      const word = input.value.trim().toLowerCase();
      if (!word) return;
      if (!this.keywords.includes(word)) this.draft = [...this.keywords, word];
      this.render();
      const again = this.sheet.root.querySelector('[data-testid=keyword-input]');
      if (again) again.focus();
    };
    const chips = this.keywords.map((word) => el('li', { class: 'chip chip-removable', 'data-testid': 'keyword-chip' },
      el('span', { text: word }),
      el('button', {
        class: 'chip-remove', type: 'button', 'aria-label': `Remove filter “${word}”`, 'data-testid': 'keyword-remove',
        onclick: () => { this.draft = this.keywords.filter((w) => w !== word); this.render(); },
      }, icon('close', 'icon-sm'))));
    const changed = this.draft !== null && this.draft.join('\n') !== this.settings.keyword_filters.join('\n');
    return el('section', { class: 'settings-section' },
      el('h3', { text: 'Keyword filters' }),
      el('p', { class: 'muted', text: 'Videos whose caption or hashtags contain these words are left out of For You.' }),
      el('form', { class: 'keyword-form', onsubmit: add },
        input, el('button', { class: 'btn', type: 'submit', 'data-testid': 'keyword-add', text: 'Add' })),
      chips.length ? el('ul', { class: 'chips', 'data-testid': 'keyword-chips' }, chips)
        : el('p', { class: 'muted small', text: 'No keyword filters.' }),
      el('div', { class: 'sheet-actions' },
        changed ? el('span', { class: 'muted small', text: 'Not saved yet' }) : null,
        el('button', {
          class: 'btn btn-primary', type: 'button', 'data-testid': 'keyword-save', disabled: !changed,
          onclick: () => this.saveKeywords(), text: 'Save filters',
        })));
  }

  async saveKeywords() {
    try {
      const saved = await api('PUT', '/api/me/feed-settings', { keyword_filters: this.keywords });
      this.draft = null;
      this.stale = true;
      this.update(saved);
      this.sheet.say('Keyword filters saved');
    } catch (err) {
      this.sheet.say(err.message, { error: true });
    }
  }

  renderMarks() {
    const marks = this.settings.not_interested || [];
    const rows = marks.map((mark) => {
      const row = el('li', { class: 'mark', 'data-testid': 'mark', 'data-kind': mark.kind, 'data-value': mark.value },
        el('span', { class: 'mark-kind', text: KIND_WORDS[mark.kind] || mark.kind }),
        this.markLabel(mark),
        el('button', {
          class: 'btn btn-small', type: 'button', 'data-testid': 'mark-undo',
          'aria-label': `Undo not interested: ${this.markText(mark)}`, text: 'Undo',
          onclick: () => this.undoMark(mark),
        }));
      return row;
    });
    return el('section', { class: 'settings-section' },
      el('h3', { text: 'Not interested' }),
      rows.length ? el('ul', { class: 'marks', 'data-testid': 'marks' }, rows)
        : el('p', { class: 'muted small', text: 'Nothing yet. Use … on a video to hide it, its creator or a hashtag.' }));
  }

  markText(mark) {
    if (mark.kind === 'creator') return `@${mark.value}`;
    if (mark.kind === 'hashtag') return `#${mark.value}`;
    return this.videoCaptions.get(mark.value) || 'a video';
  }

  markLabel(mark) {
    if (mark.kind === 'creator') return el('a', { class: 'mark-value', href: `/@${encodeURIComponent(mark.value)}`, text: `@${mark.value}` });
    if (mark.kind === 'hashtag') return el('a', { class: 'mark-value', href: `/tag/${encodeURIComponent(mark.value)}`, text: `#${mark.value}` });
    const link = el('a', {
      class: 'mark-value', href: `/v/${encodeURIComponent(mark.value)}`, 'data-mark-video': mark.value, text: this.markText(mark),
    });
    if (!this.videoCaptions.has(mark.value)) this.fetchCaption(mark.value);
    return link;
  }

  /** Name a marked video by its caption (the mark itself only holds its id). */
  async fetchCaption(videoId) {
    this.videoCaptions.set(videoId, 'a video');
    try {
      const video = await api('GET', `/api/videos/${encodeURIComponent(videoId)}`);
      const caption = (video.caption || '').trim();
      const by = video.creator ? ` by @${video.creator.username}` : '';
      const text = caption ? `${caption.length > 60 ? `${caption.slice(0, 59)}…` : caption}${by}` : `A video${by}`;
      this.videoCaptions.set(videoId, text);
      for (const link of this.sheet.root.querySelectorAll(`[data-mark-video="${CSS.escape(videoId)}"]`)) {
        link.textContent = text;
      }
    } catch {
      // a removed video keeps the plain label
    }
  }

  async undoMark(mark) {
    try {
      this.update(await api('DELETE', '/api/feed/not-interested', { kind: mark.kind, value: mark.value }));
      this.stale = true;
      this.sheet.say(`${this.markText(mark)} can appear in For You again`);
    } catch (err) {
      this.sheet.say(err.message, { error: true });
    }
  }

  renderRefresh() {
    const confirm = el('div', { class: 'confirm', 'data-testid': 'refresh-confirm', hidden: true },
      el('p', { text: 'Refresh For You? It forgets what it learned from your activity and starts afresh. '
        + 'Your follows, keyword filters and not-interested marks stay.' }),
      el('div', { class: 'sheet-actions' },
        el('button', { class: 'btn', type: 'button', text: 'Cancel', 'data-testid': 'refresh-cancel',
          onclick: () => { confirm.hidden = true; start.hidden = false; start.focus(); } }),
        el('button', { class: 'btn btn-primary', type: 'button', text: 'Refresh', 'data-testid': 'refresh-confirm-btn',
          onclick: () => this.refresh() })));
    const start = el('button', {
      class: 'btn', type: 'button', 'data-testid': 'refresh-btn',
      onclick: () => { start.hidden = true; confirm.hidden = false; confirm.querySelector('[data-testid=refresh-cancel]').focus(); },
    }, icon('refresh'), 'Refresh For You');
    const at = this.settings.profile_reset_at;
    return el('section', { class: 'settings-section' },
      el('h3', { text: 'Start afresh' }),
      el('p', { class: 'muted', text: 'See For You as if you were new here, without losing follows or filters.' }),
      at ? el('p', { class: 'muted small', 'data-testid': 'refreshed-at', text: `Last refreshed ${new Date(at * 1000).toLocaleString()}` }) : null,
      start, confirm);
  }

  async refresh() {
    try {
      this.update(await api('POST', '/api/feed/refresh'));
      this.stale = true;
      this.sheet.close();
      toast('For You refreshed: it starts afresh from now');
    } catch (err) {
      this.sheet.say(err.message, { error: true });
    }
  }
}
