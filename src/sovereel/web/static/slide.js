// One screen of the feed: the <video>, its overlay (creator, caption, why) and the action rail (with the … menu).
import { viewer } from './api.js';
import { avatar, captionNodes, compact, el, icon, profileUrl } from './dom.js';
import { chooser } from './rendition.js';

const DOUBLE_TAP_MS = 260;
const LONG_PRESS_MS = 500;
const LONG_PRESS_SLOP_PX = 10; // a finger that moves further is scrolling, not pressing

export class Slide {
  /** `actions` = {like, comments, share, follow, tap, doubleTap, more, why}, each called with the slide. */
  constructor(video, actions, { requestId = null } = {}) {
    this.v = video;
    this.actions = actions;
    this.requestId = requestId;
    this.playable = video.status === 'ready';
    this.src = null; // the rendition's URL, chosen when the source is attached (see load)
    this.loaded = false;
    this.pending = new Set(); // actions awaiting the server (one at a time per kind)
    this.tracker = null;
    this.root = this.render();
  }

  render() {
    const v = this.v;
    const creator = v.creator || { username: 'unknown', display_name: 'unknown' };
    const portrait = !v.aspect || v.aspect < 0.8;
    this.video = el('video', {
      class: `player ${portrait ? 'fit-cover' : 'fit-contain'}`,
      playsinline: true,
      'webkit-playsinline': true,
      loop: true,
      muted: true,
      preload: 'none',
      // No poster: the preloaded video shows its own first frame, and on a slow link a poster (a full-size JPEG,
      // often larger than the first seconds of the 360 rendition) would take the bandwidth the next video needs.
      // `?rendition=720` (the old behaviour, for comparisons) keeps it.
      poster: chooser().policy.fixed ? v.poster_url : null,
      disablepictureinpicture: true,
      'data-testid': 'feed-video',
    });
    this.video.muted = true;
    this.progressFill = el('div', { class: 'progress-fill' });
    this.video.addEventListener('timeupdate', () => this.renderProgress());
    this.video.addEventListener('waiting', () => this.root.classList.add('is-buffering'));
    this.video.addEventListener('progress', () => this.measureDownload());
    this.video.addEventListener('playing', () => this.root.classList.remove('is-buffering', 'is-paused'));
    this.video.addEventListener('pause', () => this.root.classList.add('is-paused'));

    const stage = el('div', { class: 'stage', 'data-testid': 'feed-stage' },
      this.video,
      v.status === 'ready' ? null : el('div', { class: 'stage-note', 'data-testid': 'stage-note' },
        v.status === 'failed' ? `Processing failed${v.failure_reason ? `: ${v.failure_reason}` : ''}` : 'Processing…'),
      el('div', { class: 'spinner', 'aria-hidden': 'true' }),
      el('div', { class: 'paused-icon', 'aria-hidden': 'true' }, icon('play')),
      el('div', { class: 'heart-burst', 'aria-hidden': 'true' }, icon('heart')),
      el('button', { class: 'unmute-hint', type: 'button', 'data-testid': 'unmute-hint' }, icon('muted'),
        el('span', { class: 'hint-tap', text: 'Tap to unmute' }), el('span', { class: 'hint-click', text: 'Click to unmute' })),
      this.renderMeta(creator),
      el('div', { class: 'progress-track', 'aria-hidden': 'true' }, this.progressFill),
    );
    stage.addEventListener('click', (event) => this.onStageClick(event));
    if (this.actions.more) this.bindLongPress(stage);
    return el('section', {
      class: 'slide', 'data-testid': 'feed-item', 'data-video-id': v.id, 'aria-label': `Video by @${creator.username}`,
    }, el('div', { class: 'slide-inner' }, stage, this.renderRail(creator)));
  }

  renderMeta(creator) {
    const v = this.v;
    this.followBtn = el('button', {
      class: 'follow-pill', type: 'button', 'data-testid': 'follow-btn',
      onclick: (e) => { e.stopPropagation(); this.actions.follow(this); },
    });
    const caption = el('p', { class: 'caption', 'data-testid': 'caption' }, captionNodes(v.caption || ''));
    // The sound it credits: "♫ original sound – @ana", linking the sound's page.
    const sound = v.sound
      ? el('a', { class: 'sound-credit', href: v.sound.url, 'data-testid': 'sound-credit' }, `♫ ${v.sound.title}`)
      : null;
    const why = v.reason
      ? el('button', {
        class: 'why-link', type: 'button', 'data-testid': 'why-btn', 'aria-haspopup': 'dialog',
        onclick: (e) => { e.stopPropagation(); this.actions.why(this); },
      }, icon('info', 'icon-sm'), 'Why this video?')
      : null;
    const meta = el('div', { class: 'meta' },
      el('div', { class: 'creator-line' },
        el('a', { class: 'creator-name', href: profileUrl(creator.username), 'data-testid': 'creator-link' },
          `@${creator.username}`),
        this.followBtn),
      caption,
      sound,
      why);
    this.renderFollow();
    // Links and controls inside the overlay do their own thing, not play/pause.
    meta.addEventListener('click', (e) => { if (e.target.closest('a, button')) e.stopPropagation(); });
    return meta;
  }

  renderRail(creator) {
    const button = (kind, iconName, label, onclick) => {
      const count = el('span', { class: 'count', 'data-testid': `${kind}-count` });
      const btn = el('button', {
        class: `action action-${kind}`, type: 'button', 'aria-label': label, 'data-testid': `${kind}-btn`, onclick,
      }, el('span', { class: 'action-icon' }, icon(iconName)), count);
      return [btn, count];
    };
    const avatarLink = el('a', { class: 'rail-avatar', href: profileUrl(creator.username), 'aria-label': `@${creator.username}` },
      avatar(creator, 'md'));
    [this.likeBtn, this.likeCount] = button('like', 'heart', 'Like', () => this.actions.like(this));
    [this.commentBtn, this.commentCount] = button('comment', 'comment', 'Comments', () => this.actions.comments(this));
    [this.shareBtn, this.shareCount] = button('share', 'share', 'Share', () => this.actions.share(this));
    this.muteBtn = el('button', {
      class: 'action action-mute', type: 'button', 'aria-label': 'Sound on/off', 'data-testid': 'mute-btn',
      onclick: () => this.actions.toggleMute(this),
    }, el('span', { class: 'action-icon' }, icon('muted', 'when-muted'), icon('sound', 'when-sound')));
    this.moreBtn = this.actions.more && el('button', {
      class: 'action action-more', type: 'button', 'aria-label': 'More options', 'aria-haspopup': 'dialog',
      'data-testid': 'more-btn', onclick: () => this.actions.more(this),
    }, el('span', { class: 'action-icon' }, icon('more')));
    this.renderCounts();
    return el('div', { class: 'rail' }, avatarLink, this.likeBtn, this.commentBtn, this.shareBtn, this.moreBtn, this.muteBtn);
  }

  renderCounts() {
    const v = this.v;
    this.likeBtn.classList.toggle('on', !!v.liked);
    this.likeBtn.setAttribute('aria-pressed', v.liked ? 'true' : 'false');
    this.likeCount.textContent = compact(v.like_count);
    this.likeCount.dataset.count = String(v.like_count);
    this.commentCount.textContent = compact(v.comment_count);
    this.commentCount.dataset.count = String(v.comment_count);
    this.shareCount.textContent = compact(v.share_count);
    this.shareCount.dataset.count = String(v.share_count);
  }

  renderFollow() {
    const own = this.v.is_own || (viewer && this.v.creator && viewer.id === this.v.creator.id);
    this.followBtn.hidden = !!own || !this.v.creator;
    const following = !!this.v.following_creator;
    this.followBtn.textContent = following ? 'Following' : 'Follow';
    this.followBtn.classList.toggle('on', following);
    this.followBtn.setAttribute('aria-pressed', following ? 'true' : 'false');
  }

  renderProgress() {
    const d = this.video.duration;
    if (Number.isFinite(d) && d > 0) this.progressFill.style.transform = `scaleX(${this.video.currentTime / d})`;
  }

  /** A long press on the video (a finger held still; or the context menu: right click, or Android's long press) opens the menu. */
  bindLongPress(stage) {
    let timer = 0;
    let start = null;
    const cancel = () => { clearTimeout(timer); timer = 0; };
    stage.addEventListener('pointerdown', (event) => {
      this.longPressed = false;
      if (event.pointerType === 'mouse' || event.target.closest('.meta a, .meta button, .unmute-hint')) return;
      start = { x: event.clientX, y: event.clientY };
      cancel();
      timer = setTimeout(() => {
        timer = 0;
        this.longPressed = true;
        this.actions.more(this);
      }, LONG_PRESS_MS);
    });
    stage.addEventListener('pointermove', (event) => {
      if (timer && Math.hypot(event.clientX - start.x, event.clientY - start.y) > LONG_PRESS_SLOP_PX) cancel();
    });
    stage.addEventListener('pointerup', cancel);
    stage.addEventListener('pointercancel', cancel);
    stage.addEventListener('contextmenu', (event) => {
      if (event.target.closest('.meta a')) return; // a link keeps the browser's own menu (open in new tab…)
      event.preventDefault();
      cancel();
      if (!this.longPressed) this.actions.more(this);
      this.longPressed = true;
    });
  }

  onStageClick(event) {
    if (event.target.closest('.meta a, .meta button')) return;
    if (this.longPressed) { // the finger lifted after a long press: not a tap
      this.longPressed = false;
      return;
    }
    if (this.tapTimer) {
      clearTimeout(this.tapTimer);
      this.tapTimer = 0;
      this.actions.doubleTap(this);
      return;
    }
    this.tapTimer = setTimeout(() => {
      this.tapTimer = 0;
      this.actions.tap(this);
    }, DOUBLE_TAP_MS);
  }

  burstHeart() {
    this.root.classList.remove('burst');
    void this.root.offsetWidth; // restart the animation
    this.root.classList.add('burst');
  }

  /** Attach the source so the browser may buffer it ('auto' for the next video, 'metadata' behind).
   * The rendition is chosen here, for the screen and the throughput measured so far, and kept while the
   * source stays attached: the next video is preloaded at the size it will play, never switched mid-video. */
  load(preload) {
    if (!this.playable) return;
    if (!this.loaded) {
      const rendition = chooser().choose(this.v);
      if (!rendition) return;
      this.src = rendition.url;
      this.rendition = rendition;
      this.loadStart = performance.now();
      this.video.dataset.rendition = rendition.label;
      this.video.preload = preload;
      this.video.src = this.src;
      this.loaded = true;
    } else {
      this.video.preload = preload;
    }
  }

  /** Whether the whole attached rendition is in the browser (it no longer uses the network). */
  fullyBuffered() {
    const { buffered, duration } = this.video;
    return buffered.length > 0 && Number.isFinite(duration) && buffered.end(buffered.length - 1) >= duration - 0.1
      && buffered.start(0) <= 0.1;
  }

  /** As data arrives, tell the chooser how many of the rendition's bytes came in how long (a throughput
   * sample: the buffered share of its duration, times its size); the last one is kept when all is in. */
  measureDownload() {
    const { buffered, duration } = this.video;
    if (!this.loadStart || !this.rendition || !this.rendition.bytes || !Number.isFinite(duration) || duration <= 0) return;
    let seconds = 0;
    for (let i = 0; i < buffered.length; i++) seconds += buffered.end(i) - buffered.start(i);
    const bytes = Math.round(this.rendition.bytes * Math.min(1, seconds / duration));
    chooser().recordDownload(this.src, { start: this.loadStart, end: performance.now(), bytes });
    if (this.fullyBuffered()) this.loadStart = 0;
  }

  /** The video became the one on screen: measure the time to its first frame (a `sovereel:first-frame`
   * performance measure, with the rendition and whether a frame was already buffered). */
  markVisit() {
    if (this.visitDone) this.video.removeEventListener('playing', this.visitDone); // swiped away before it played
    const start = performance.now();
    const buffered = this.video.readyState;
    const done = () => {
      this.video.removeEventListener('playing', done);
      this.visitDone = null;
      try {
        performance.measure('sovereel:first-frame', {
          start, end: performance.now(), detail: { id: this.v.id, rendition: this.video.dataset.rendition || null, buffered },
        });
      } catch {
        // an old browser without measure options: nothing to record
      }
    };
    this.visitDone = done;
    this.video.addEventListener('playing', done);
  }

  /** Drop the source of a far-away video so its buffers are freed. */
  unload() {
    if (!this.loaded) return;
    this.video.pause();
    this.video.removeAttribute('src');
    this.video.preload = 'none';
    this.video.load();
    this.loaded = false;
    this.src = null; // chosen afresh if it comes back into range
    this.loadStart = 0;
    delete this.video.dataset.rendition;
  }

  async play(muted) {
    this.load('auto');
    if (!this.src) return;
    this.video.muted = muted;
    try {
      await this.video.play();
    } catch (err) {
      if (err && err.name === 'NotAllowedError' && !this.video.muted) {
        // Sound without a gesture is refused: play muted instead.
        this.video.muted = true;
        this.actions.autoplayMuted(this);
        await this.video.play().catch(() => this.root.classList.add('is-paused'));
      } else if (err && err.name !== 'AbortError') {
        this.root.classList.add('is-paused');
      }
    }
  }

  pause() {
    this.video.pause();
  }
}
