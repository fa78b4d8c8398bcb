// Watching one video: turns the <video> element's events into impression / play / progress / complete /
// loop / skip reports. watched_s is seconds actually played (accumulated), not the playhead position.

const MAX_STEP_S = 1.5; // a larger jump between timeupdates is a seek, not playback

export class WatchTracker {
  constructor(video, videoId, queue, requestId = null, source = null) {
    this.video = video;
    this.videoId = videoId;
    this.queue = queue;
    this.requestId = requestId;
    this.source = source; // where the viewer found it (foryou, following, profile, hashtag, search, share)
    this.impressed = false;
    this.watched = 0;
    this.reported = 0;
    this.completed = false;
    this.visiting = false;
    this.playedThisVisit = false;
    this.lastT = null;
    video.addEventListener('playing', () => this.onPlaying());
    video.addEventListener('timeupdate', () => this.onTime());
    video.addEventListener('pause', () => { this.lastT = null; });
    video.addEventListener('seeking', () => this.onSeeking());
    video.addEventListener('ended', () => this.onEnded());
  }

  emit(kind, extra = {}) {
    if (!this.queue) return;
    this.queue.push(kind, this.videoId, { request_id: this.requestId, source: this.source, ...extra });
  }

  position() {
    const t = this.video.currentTime;
    return Number.isFinite(t) ? round(t) : undefined;
  }

  impression() {
    if (this.impressed) return;
    this.impressed = true;
    this.emit('impression');
  }

  /** The video became the one on screen. */
  enter() {
    this.visiting = true;
    this.playedThisVisit = false;
    this.lastT = null;
  }

  onPlaying() {
    this.lastT = this.video.currentTime;
    if (this.visiting && !this.playedThisVisit) {
      this.playedThisVisit = true;
      this.emit('play', { position_s: this.position() });
    }
  }

  onTime() {
    const t = this.video.currentTime;
    const duration = this.video.duration;
    if (this.lastT === null || this.video.paused) {
      this.lastT = t;
      return;
    }
    const step = t - this.lastT;
    if (step > 0 && step <= MAX_STEP_S) {
      this.watched += step;
      if (!this.completed && Number.isFinite(duration) && t >= duration - 0.3) this.complete();
    } else if (step < 0 && this.isWrap(t)) {
      this.wrap(t);
    }
    this.lastT = t;
  }

  /** `loop` restarts by seeking to 0 (with a 'seeking' event); any other seek is not playback. */
  onSeeking() {
    const t = this.video.currentTime;
    if (this.lastT !== null && !this.video.paused && this.isWrap(t)) this.wrap(t);
    else this.lastT = null;
  }

  isWrap(t) {
    const duration = this.video.duration;
    return Number.isFinite(duration) && this.lastT >= duration - MAX_STEP_S && t <= MAX_STEP_S;
  }

  /** Wrapped around: a loop. Count the tail before the wrap and the head after it. */
  wrap(t) {
    this.watched += Math.max(0, this.video.duration - this.lastT) + t;
    this.lastT = t;
    if (!this.completed) this.complete();
    this.emit('loop', { watched_s: round(this.watched), position_s: round(t) });
  }

  onEnded() {
    // Only without `loop`; the feed loops, but a single-video page may not.
    if (!this.completed) this.complete();
  }

  complete() {
    this.completed = true;
    this.emit('complete', { watched_s: round(this.watched), position_s: this.position() });
    this.reported = this.watched;
  }

  /** Called every few seconds while the video is on screen. */
  tick() {
    if (this.visiting && this.watched - this.reported >= 0.5) this.progress();
  }

  progress() {
    this.reported = this.watched;
    this.emit('progress', { watched_s: round(this.watched), position_s: this.position() });
  }

  /** The viewer moved on: a skip (with watched_s) if they left before it completed, else a last progress report. */
  leave() {
    if (!this.visiting) return;
    this.visiting = false;
    if (!this.playedThisVisit && this.watched === 0) return;
    if (!this.completed) {
      this.reported = this.watched;
      this.emit('skip', { watched_s: round(this.watched), position_s: this.position() });
    } else if (this.watched - this.reported >= 0.1) {
      this.progress();
    }
  }
}

function round(x) {
  return Math.round(x * 100) / 100;
}
