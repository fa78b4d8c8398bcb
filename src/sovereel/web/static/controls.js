// A feed item's "…" menu (also opened by a long press): not interested in the video, its creator or one of
// its hashtags (each undoable), and "Why this video?".
import { api, requireSignIn, toast, viewer } from './api.js';
import { el } from './dom.js';
import { Sheet, menuButton } from './sheet.js';
import { openReport } from './report.js';
import { loadReason, renderReason } from './why.js';

const SIGN_IN_REASON = 'Sign in to tune what For You shows you.';

/** Which slides a not-interested mark takes out of the feed. */
export function matches(kind, value) {
  const key = String(value).toLowerCase();
  if (kind === 'video') return (slide) => slide.v.id === value;
  if (kind === 'creator') return (slide) => !!slide.v.creator && slide.v.creator.username.toLowerCase() === key;
  return (slide) => (slide.v.hashtags || []).some((tag) => tag.toLowerCase() === key);
}

function markMessage(kind, value) {
  if (kind === 'video') return 'Got it: you will see fewer videos like this';
  if (kind === 'creator') return `You won't see videos from @${value} in For You`;
  return `You won't see #${value} in For You`;
}

export class FeedControls {
  /** `feed` provides dismiss(test) -> the slides taken out, restore(slides, focus), reload() and generation. */
  constructor(feed) {
    this.feed = feed;
    this.menu = new Sheet('more-sheet', 'Options');
    this.why = new Sheet('why-panel', 'Why this video?');
    this.onChange = null; // called with the viewer's new feed settings after a mark is made or undone
  }

  openMenu(slide) {
    const v = slide.v;
    const creator = v.creator;
    const own = v.is_own || (viewer && creator && viewer.id === creator.id);
    const items = [];
    if (!own) {
      items.push(menuButton('ban', 'Not interested', () => this.mark(slide, 'video', v.id), 'not-interested-btn'));
      if (creator) {
        items.push(menuButton('user-x', `Don't show videos from @${creator.username}`,
          () => this.mark(slide, 'creator', creator.username), 'hide-creator-btn'));
      }
      for (const tag of v.hashtags || []) {
        const btn = menuButton('hash', `Hide #${tag}`, () => this.mark(slide, 'hashtag', tag), 'hide-tag-btn');
        btn.dataset.tag = tag;
        items.push(btn);
      }
    }
    if (v.reason) items.push(menuButton('info', 'Why this video?', () => this.openWhy(slide), 'why-menu-btn'));
    if (!own) {
      const target = { kind: 'video', id: v.id, label: 'this video', username: creator ? creator.username : null };
      items.push(menuButton('flag', 'Report', () => { this.menu.close(); openReport(target); }, 'report-btn'));
    }
    if (!items.length) items.push(el('p', { class: 'muted', text: 'Nothing to change for your own video.' }));
    const who = creator ? `@${creator.username}` : 'this video';
    this.menu.show(`Video by ${who}`, el('div', { class: 'menu-list', role: 'group', 'aria-label': 'Video options' }, items));
  }

  /** Mark a video, creator or hashtag as not interesting: its items leave the feed at once, with an Undo. */
  async mark(slide, kind, value) {
    this.menu.close();
    if (!requireSignIn(SIGN_IN_REASON)) return;
    // The request runs while the item collapses; if the server refuses, the items come back.
    const request = api('POST', '/api/feed/not-interested', { kind, value }).then((settings) => ({ settings }), (error) => ({ error }));
    const generation = this.feed.generation;
    const removed = await this.feed.dismiss(matches(kind, value));
    const { settings, error } = await request;
    if (error) {
      this.feed.restore(removed, slide);
      toast(error.message, { error: true });
      return;
    }
    if (this.onChange) this.onChange(settings);
    toast(markMessage(kind, value), { ms: 6000, action: { label: 'Undo', run: () => this.undo(kind, value, removed, slide, generation) } });
  }

  async undo(kind, value, removed, slide, generation) {
    let settings;
    try {
      settings = await api('DELETE', '/api/feed/not-interested', { kind, value });
    } catch (err) {
      toast(err.message, { error: true });
      return;
    }
    if (this.onChange) this.onChange(settings);
    // The feed was reloaded since (its settings changed): the items come back through a fresh page instead.
    if (generation === this.feed.generation) this.feed.restore(removed, slide);
    else this.feed.reload();
    toast('Undone: it is back in your feed');
  }

  async openWhy(slide) {
    this.menu.close();
    const status = el('p', { class: 'muted', 'data-testid': 'why-status', text: 'Loading…' });
    this.why.show('Why this video?', status);
    this.why.root.dataset.videoId = slide.v.id;
    try {
      const reason = await loadReason(slide.v);
      if (this.why.root.dataset.videoId !== slide.v.id || !this.why.isOpen) return;
      this.why.show('Why this video?', ...renderReason(reason));
    } catch (err) {
      status.textContent = err.message;
    }
  }
}
