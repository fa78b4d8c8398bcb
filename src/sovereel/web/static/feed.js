// The swipe feed: one video per screen (CSS scroll-snap), autoplay of the one in view, preload of the
// next, unloading of far-away ones, infinite loading, keyboard control and watch-event reporting. Taking
// items out ("not interested"), putting them back and reloading are in feed_changes.js.
import { api, requireSignIn, toast, viewer } from './api.js';
import { $, el, readJSON } from './dom.js';
import { CommentsDrawer } from './comments.js';
import { FeedControls } from './controls.js';
import { EventQueue } from './events.js';
import { feedChanges } from './feed_changes.js';
import { FeedSettings } from './feed_settings.js';
import { chooser } from './rendition.js';
import { Slide } from './slide.js';
import { setFollow, share, toggleLike } from './social.js';
import { WatchTracker } from './watch.js';

const PAGE = 6;
const ACTIVE_RATIO = 0.6;
const IMPRESSION_RATIO = 0.5;
const PARK_RATIO = 0.25;
const KEEP_LOADED = 2; // slides further than this from the active one drop their source
const PROGRESS_MS = 5000;

class Feed {
  constructor(root, boot) {
    this.root = root;
    this.mode = boot.mode;
    // A single-video page continues with the For You feed below it.
    this.source = boot.mode === 'following' ? 'following' : 'foryou';
    this.cursor = boot.next_cursor;
    this.requestId = boot.request_id;
    this.exhausted = boot.mode !== 'single' && !boot.next_cursor;
    this.loading = false;
    this.generation = 0; // bumped by reload(): a page requested before it is dropped
    this.seq = 0; // order of arrival, so restored items go back where they were
    this.slides = [];
    this.ids = new Set();
    this.active = -1;
    this.parked = false; // the active video scrolled away with no other in its place (end of the feed)
    this.settling = false; // a dismissed item is collapsing: the observer activates nothing meanwhile
    this.muted = true;
    this.ratios = new Map();
    this.queue = viewer ? new EventQueue({ owner: viewer.id }) : null; // events are recorded for signed-in viewers
    this.drawer = new CommentsDrawer();
    this.actions = {
      like: (s) => toggleLike(s),
      doubleTap: (s) => { if (requireSignIn('Sign in to like videos.')) { s.burstHeart(); toggleLike(s, true); } },
      comments: (s) => this.drawer.open(s),
      share: (s) => share(s),
      follow: (s) => this.follow(s),
      tap: (s) => this.tap(s),
      toggleMute: () => this.setMuted(!this.muted),
      autoplayMuted: () => this.setMuted(true, false),
      // The "…" menu tunes For You, so the Following tab (newest from followed creators) has none.
      more: this.source === 'foryou' ? (s) => this.controls.openMenu(s) : null,
      why: (s) => this.controls.openWhy(s),
    };
    this.controls = new FeedControls(this);
    this.settings = new FeedSettings(this, boot.feed_settings || null);
    this.controls.onChange = (settings) => this.settings.update(settings);
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), {
      root: this.root, threshold: [0, 0.25, IMPRESSION_RATIO, ACTIVE_RATIO, 0.75, 1],
    });
    // A single-video page says where its video was opened from; what follows it is For You.
    this.append(boot.items, boot.request_id, boot.view_source);
    this.root.setAttribute('aria-busy', 'false');
    if (!this.slides.length) this.loadMore().then(() => this.renderEmpty());
    else if (this.exhausted) this.renderEnd();
    this.bind();
    setInterval(() => this.current && this.current.tracker && this.current.tracker.tick(), PROGRESS_MS);
  }

  get current() {
    return this.slides[this.active] || null;
  }

  append(items, requestId, viewSource = null) {
    for (const item of items) {
      if (this.ids.has(item.id)) continue;
      this.ids.add(item.id);
      const slide = new Slide(item, this.actions, { requestId });
      if (this.queue) {
        slide.tracker = new WatchTracker(slide.video, item.id, this.queue, requestId, viewSource || this.source);
      }
      slide.index = this.slides.length;
      slide.seq = this.seq++;
      this.slides.push(slide);
      (this.endNode ? this.endNode.before(slide.root) : this.root.append(slide.root));
      this.observer.observe(slide.root);
    }
  }

  async loadMore() {
    if (this.loading || this.exhausted) return;
    const generation = this.generation;
    this.loading = true;
    this.root.classList.add('is-loading');
    let page = null;
    let error = null;
    try {
      const params = new URLSearchParams({ limit: String(PAGE) });
      if (this.cursor) params.set('cursor', this.cursor);
      page = await api('GET', `/api/feed/${this.source}?${params}`);
    } catch (err) {
      error = err;
    }
    if (generation !== this.generation) return; // the feed was reloaded meanwhile: this page is stale
    this.loading = false;
    this.root.classList.remove('is-loading');
    if (page) {
      const before = this.slides.length;
      this.append(page.items, page.request_id || null);
      this.cursor = page.next_cursor;
      if (page.request_id) this.requestId = page.request_id;
      // Stop when the server has no more, or a page brought nothing new (all already shown).
      if (!page.next_cursor || this.slides.length === before) this.exhausted = true;
    } else if (error.status === 401) {
      this.exhausted = true;
    } else {
      toast(error.message, { error: true });
    }
    if (this.exhausted && this.slides.length) this.renderEnd();
  }

  renderEnd() {
    if (this.endNode) return;
    this.endNode = el('section', { class: 'slide slide-end', 'data-testid': 'feed-end' },
      el('div', { class: 'end-card' },
        el('h2', { text: "You're all caught up" }),
        el('p', { class: 'muted', text: 'New videos appear here as creators post them.' }),
        el('p', {}, el('a', { class: 'btn', href: '/search', text: 'Search' }), ' ',
          el('a', { class: 'btn btn-primary', href: '/upload', text: 'Upload a video' }))));
    this.root.append(this.endNode);
  }

  renderEmpty() {
    if (this.slides.length) return;
    let title = 'No videos yet';
    let text = 'Be the first: upload a short video.';
    let link = el('a', { class: 'btn btn-primary', href: '/upload', text: 'Upload a video' });
    if (this.source === 'following' && !viewer) {
      title = 'See the creators you follow';
      text = 'Sign in to see the newest videos from the people you follow.';
      link = el('a', { class: 'btn btn-primary', href: '/login?next=%2F%3Ftab%3Dfollowing', text: 'Sign in' });
    } else if (this.source === 'following') {
      title = 'Nobody followed yet';
      text = 'Follow creators from For You and their new videos appear here.';
      link = el('a', { class: 'btn btn-primary', href: '/', text: 'Watch For You' });
    } else if (this.hasFilters()) {
      title = 'Nothing for you right now';
      text = 'Your keyword filters and “not interested” marks leave some videos out. New videos appear as creators post them.';
      link = el('button', {
        class: 'btn btn-primary', type: 'button', text: 'For You settings', onclick: () => this.settings.open(),
      });
    }
    this.emptyNode = el('section', { class: 'slide slide-end', 'data-testid': 'feed-empty' },
      el('div', { class: 'end-card' }, el('h2', { text: title }), el('p', { class: 'muted', text }), el('p', {}, link)));
    this.root.append(this.emptyNode);
  }

  hasFilters() {
    const settings = this.settings.settings;
    return !!settings && (settings.keyword_filters.length > 0 || settings.not_interested.length > 0);
  }

  onIntersect(entries) {
    for (const entry of entries) {
      const slide = this.slides.find((s) => s.root === entry.target);
      if (!slide) continue;
      this.ratios.set(slide, entry.intersectionRatio);
      if (entry.intersectionRatio >= IMPRESSION_RATIO && slide.tracker) slide.tracker.impression();
    }
    if (this.settling) return;
    let best = null;
    let bestRatio = 0;
    for (const [slide, ratio] of this.ratios) {
      if (ratio > bestRatio) [best, bestRatio] = [slide, ratio];
    }
    if (best && bestRatio >= ACTIVE_RATIO && (best.index !== this.active || this.parked)) {
      this.activate(best.index);
    } else if (this.current && !this.parked && (this.ratios.get(this.current) || 0) < PARK_RATIO) {
      this.park();
    }
  }

  /** Nothing is on screen any more (the end card is): stop the last video and end its visit. */
  park() {
    this.parked = true;
    this.current.pause();
    if (this.current.tracker) this.current.tracker.leave();
  }

  activate(index) {
    const previous = this.parked ? null : this.current;
    this.parked = false;
    if (previous) {
      previous.pause();
      if (previous.tracker) previous.tracker.leave();
    }
    this.active = index;
    const slide = this.slides[index];
    this.root.dataset.activeIndex = String(index);
    this.root.dataset.activeId = slide.v.id;
    for (const other of this.slides) other.root.classList.toggle('active', other === slide);
    if (slide.tracker) slide.tracker.enter();
    slide.markVisit();
    slide.play(this.muted);
    const scarce = !chooser().policy.fixed && chooser().scarce(); // `?rendition=720` keeps the old behaviour
    this.slides.forEach((s, i) => {
      if (i === index + 1) s.load('auto');
      // On a scarce link a video swiped past that is still downloading lets go: the bytes go to the next one.
      else if (i === index - 1) (scarce && !s.fullyBuffered() ? s.unload() : s.load('metadata'));
      else if (Math.abs(i - index) > KEEP_LOADED) s.unload();
    });
    if (index >= this.slides.length - 3) this.loadMore();
    if (this.queue && index > 0 && index % 4 === 0) this.queue.flush();
  }

  go(delta) {
    if (this.parked) {
      if (delta < 0) this.current.root.scrollIntoView({ behavior: 'smooth', block: 'start' });
      return;
    }
    const target = Math.max(0, Math.min(this.slides.length - 1, (this.active < 0 ? 0 : this.active) + delta));
    if (delta > 0 && this.active === this.slides.length - 1 && this.endNode) {
      this.endNode.scrollIntoView({ behavior: 'smooth', block: 'start' });
      return;
    }
    const slide = this.slides[target];
    if (slide) slide.root.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  tap(slide) {
    if (this.muted) {
      this.setMuted(false);
      if (slide.video.paused) slide.play(false);
      return;
    }
    if (slide.video.paused) slide.play(this.muted);
    else slide.pause();
  }

  setMuted(muted, apply = true) {
    this.muted = muted;
    this.root.classList.toggle('is-muted', muted);
    if (apply && this.current) this.current.video.muted = muted;
  }

  follow(slide) {
    const creator = slide.v.creator;
    if (!creator) return;
    const want = !slide.v.following_creator;
    setFollow(creator.username, want, (following) => {
      for (const s of this.slides) {
        if (s.v.creator && s.v.creator.id === creator.id) {
          s.v.following_creator = following;
          s.renderFollow();
        }
      }
    }).then((ok) => { if (ok) toast(want ? `Following @${creator.username}` : `Unfollowed @${creator.username}`); });
  }

  /** Show or hide the "Not personalised" badge on the For You tab. */
  setPersonalised(on) {
    const badge = document.querySelector('[data-testid=np-badge]');
    if (badge) badge.hidden = !!on;
  }

  bind() {
    document.addEventListener('keydown', (event) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.target.closest('input, textarea, select, [contenteditable], dialog') || this.drawer.isOpen) return;
      if (document.querySelector('dialog[open]')) return;
      const key = event.key;
      if (key === 'ArrowDown' || key === 'j' || key === 'PageDown') this.go(+1);
      else if (key === 'ArrowUp' || key === 'k' || key === 'PageUp') this.go(-1);
      else if (key === 'm') this.setMuted(!this.muted);
      else if (key === 'l' && this.current) toggleLike(this.current);
      else if (key === ' ' && this.current) this.tap(this.current);
      else return;
      event.preventDefault();
    });
    const shell = this.root.closest('.feed-shell');
    $('[data-role=prev]', shell).addEventListener('click', () => this.go(-1));
    $('[data-role=next]', shell).addEventListener('click', () => this.go(+1));
    const settingsBtn = $('[data-role=feed-settings]', shell);
    if (settingsBtn) settingsBtn.addEventListener('click', () => this.settings.open());
    document.addEventListener('visibilitychange', () => {
      const slide = this.current;
      if (!slide) return;
      if (document.visibilityState === 'hidden') {
        this.resumeOnShow = !slide.video.paused && !this.parked;
        slide.pause();
      } else if (this.resumeOnShow) {
        slide.play(this.muted);
      }
    });
    // Before the queue's exit flush: a hidden tab reports the watch time so far; leaving the page ends the
    // visit (a skip if the video had not completed).
    if (this.queue) {
      this.queue.beforeExit.push((why) => {
        const tracker = this.current && this.current.tracker;
        if (tracker) (why === 'pagehide' ? tracker.leave() : tracker.tick());
      });
    }
    // Back from the back/forward cache: the visit starts again.
    window.addEventListener('pageshow', (event) => {
      const slide = this.current;
      if (!event.persisted || !slide) return;
      if (slide.tracker) slide.tracker.enter();
      slide.play(this.muted);
    });
  }
}

Object.assign(Feed.prototype, feedChanges); // show, deactivate, dismiss, restore, showEnd, reload

/** One's own video, still processing, on its own page: reload when it is ready (or failed). */
function reloadWhenProcessed(videoId) {
  setTimeout(async () => {
    try {
      const video = await api('GET', `/api/videos/${encodeURIComponent(videoId)}`);
      if (video.status !== 'processing') {
        location.reload();
        return;
      }
    } catch {
      // keep trying: the server may be restarting
    }
    reloadWhenProcessed(videoId);
  }, 2000);
}

const root = document.getElementById('feed');
const boot = readJSON('feed-data');
if (root && boot) {
  root.replaceChildren();
  window.sovereelFeed = new Feed(root, boot);
  const only = boot.mode === 'single' && boot.items[0];
  if (only && only.status === 'processing') reloadWhenProcessed(only.id);
}
