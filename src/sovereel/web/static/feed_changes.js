// Changing the feed's list of items in place: taking items out ("not interested"), putting them back (Undo),
// and starting again from the first page (the For You settings changed). Methods of Feed (feed.js).
import { hideToast } from './api.js';

const COLLAPSE_MS = 280; // keep in step with .slide.collapsing in app.css

const reducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;
const wait = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export const feedChanges = {
  /** Scroll to the slide at `index` at once and make it the active one. */
  show(index) {
    const slide = this.slides[index];
    this.root.scrollTo({ top: slide.root.offsetTop, behavior: 'instant' });
    if (this.active !== index || this.parked) this.activate(index);
  },

  /** Stop the active video and end its visit; nothing is active afterwards. */
  deactivate() {
    const current = this.parked ? null : this.current;
    if (current) {
      current.pause();
      if (current.tracker) current.tracker.leave();
      current.root.classList.remove('active');
    }
    this.active = -1;
    this.parked = false;
    delete this.root.dataset.activeIndex;
    delete this.root.dataset.activeId;
  },

  /** Renumber the slides after some were taken out or put back; `current` stays the current one if still there. */
  reindex(current) {
    this.slides.forEach((s, i) => { s.index = i; });
    this.active = current ? this.slides.indexOf(current) : -1;
    if (this.active < 0) this.parked = false;
    else if (!this.parked) this.root.dataset.activeIndex = String(this.active);
  },

  /**
   * Take the slides matching `test` out of the feed ("not interested"). The one on screen collapses and the
   * feed moves on to the next. Returns the slides taken out, for restore().
   */
  async dismiss(test) {
    const removed = this.slides.filter(test);
    if (!removed.length) return removed;
    const current = this.parked ? null : this.current;
    const onScreen = current && removed.includes(current);
    const anchorSeq = onScreen ? current.seq : null;
    for (const slide of removed) { // before the collapse, so the observer cannot pick one of them meanwhile
      this.observer.unobserve(slide.root);
      this.ratios.delete(slide);
    }
    if (onScreen) {
      this.deactivate();
      this.settling = true; // until the feed has moved on, scrolling caused by the collapse activates nothing
      // The last one loaded: ask for the next page while it collapses.
      if (current === this.slides[this.slides.length - 1]) this.loadMore();
      if (!reducedMotion()) {
        current.root.classList.add('collapsing');
        await wait(COLLAPSE_MS);
      }
    }
    for (const slide of removed) {
      slide.pause();
      slide.unload();
      slide.root.remove();
      slide.root.classList.remove('collapsing', 'active');
    }
    const keep = this.current; // none when the one on screen was taken out
    this.slides = this.slides.filter((s) => !removed.includes(s));
    this.reindex(keep);
    if (!onScreen) {
      if (this.current && !this.parked) this.show(this.active); // slides above it went: keep it where it was
      return removed;
    }
    // The feed moves on: to the next item after the dismissed one, else a new page, else the end card.
    try {
      let next = this.slides.find((s) => s.seq > anchorSeq);
      while (!next && !this.exhausted) {
        const generation = this.generation;
        const inFlight = this.loading; // the page asked for during the collapse: wait for it
        await (inFlight ? wait(50) : this.loadMore());
        if (generation !== this.generation) return removed; // reloaded meanwhile: that shows its own first item
        next = this.slides.find((s) => s.seq > anchorSeq);
        if (!inFlight) break; // a page came (or failed): do not ask again
      }
      this.settling = false;
      if (next) this.show(next.index);
      else this.showEnd();
    } finally {
      this.settling = false;
    }
    return removed;
  },

  showEnd() {
    this.deactivate();
    if (!this.slides.length && this.exhausted) {
      if (this.endNode) this.endNode.remove();
      this.endNode = null;
      if (!this.emptyNode) this.renderEmpty();
      return;
    }
    if (!this.endNode) this.renderEnd();
    this.endNode.scrollIntoView({ block: 'start' });
    if (this.slides.length) { // as if scrolled past the last video: "up" goes back to it
      this.active = this.slides.length - 1;
      this.parked = true;
    }
  },

  /** Put slides taken out by dismiss() back where they were, and show `focus` (Undo). */
  restore(slides, focus) {
    if (this.emptyNode) {
      this.emptyNode.remove();
      this.emptyNode = null;
    }
    const keep = this.current;
    for (const slide of [...slides].sort((a, b) => a.seq - b.seq)) {
      if (this.slides.includes(slide)) continue;
      const at = this.slides.findIndex((s) => s.seq > slide.seq);
      const before = at >= 0 ? this.slides[at].root : this.endNode;
      if (before) before.before(slide.root);
      else this.root.append(slide.root);
      this.slides.splice(at >= 0 ? at : this.slides.length, 0, slide);
      this.observer.observe(slide.root);
    }
    if (this.slides.length && this.exhausted && !this.endNode) this.renderEnd();
    this.reindex(keep);
    if (focus && this.slides.includes(focus)) {
      this.deactivate();
      this.show(focus.index);
    } else if (this.current && !this.parked) {
      this.show(this.active); // slides put back above it: keep it where it was on screen
    }
  },

  /** Start the feed again from its first page (the For You settings changed). */
  async reload() {
    if (document.querySelector('#toast.has-action')) hideToast(); // its Undo belongs to the feed being replaced
    this.deactivate();
    this.generation += 1;
    for (const slide of this.slides) {
      this.observer.unobserve(slide.root);
      slide.unload();
    }
    this.slides = [];
    this.ids.clear();
    this.ratios.clear();
    this.endNode = null;
    this.emptyNode = null;
    this.cursor = null;
    this.requestId = null;
    this.exhausted = false;
    this.loading = false;
    this.settling = false;
    this.root.replaceChildren();
    this.root.scrollTop = 0;
    this.root.setAttribute('aria-busy', 'true');
    await this.loadMore();
    this.root.setAttribute('aria-busy', 'false');
    if (!this.slides.length) this.renderEmpty();
  },
};
