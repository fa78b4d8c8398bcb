// Which rendition of a video to stream for this viewer: the largest that the screen can show and the measured
// throughput can carry. The choice is made when a video's source is attached (as the next video, before it
// plays) and kept until the source is dropped: the player switches between videos, never mid-video.
//
// The functions on top are pure (tested in a browser page by tests/test_browser_playback.py); the estimator
// at the bottom is the only part that reads the browser (Resource Timing, navigator.connection, localStorage).

/**
 * One stored rendition, as the API lists it in a video's `renditions` (smallest first).
 * @typedef {{label: string, width: number|null, height: number|null, bytes: number|null, url: string}} Rendition
 */

/**
 * One finished media fetch: when it ran (ms) and what it moved over the network (bytes).
 * @typedef {{start: number, end: number, bytes: number}} Fetch
 */

/** Keep this share of the estimate free: a rendition's average bitrate must fit in 80% of the throughput. */
export const HEADROOM = 0.8;
/** Fetches smaller than this say more about latency than about throughput. */
export const MIN_SAMPLE_BYTES = 24 * 1024;
/** How many recent media fetches the estimate is made from. */
export const WINDOW = 6;
/** Below this (bytes per second, 1.5 Mbit/s) the link is scarce: no bytes for videos already swiped past. */
export const SCARCE_BPS = 1_500_000 / 8;
const STORAGE_KEY = 'sovereel.throughput';
// Bytes per second per pixel of the 720 rendition's VBV cap (2.5 Mbit/s for 720x1280): used to guess the
// bitrate of a rendition whose size in bytes is not known (a video from another region).
const NOMINAL_BYTES_PER_PIXEL_S = 2_500_000 / 8 / (720 * 1280);

/**
 * Short side, in device pixels, of the box a video is shown in (the whole viewport in the feed).
 * @param {number} width CSS pixels
 * @param {number} height CSS pixels
 * @param {number} pixelRatio window.devicePixelRatio
 * @returns {number}
 */
export function screenNeed(width, height, pixelRatio) {
  return Math.round(Math.min(width, height) * (pixelRatio > 0 ? pixelRatio : 1));
}

/**
 * The short side of a rendition in pixels; a numeric label stands in when the size is unknown.
 * @param {Rendition} r
 * @returns {number}
 */
export function shortSide(r) {
  if (r.width && r.height) return Math.min(r.width, r.height);
  const n = Number.parseInt(r.label, 10);
  return Number.isFinite(n) ? n : 0;
}

/**
 * Average bytes per second of a rendition: its size over the video's duration, else a guess from its pixels.
 * @param {Rendition} r
 * @param {number|null} durationS
 * @returns {number}
 */
export function bytesPerSecond(r, durationS) {
  if (r.bytes && durationS && durationS > 0) return r.bytes / durationS;
  const side = shortSide(r);
  const pixels = r.width && r.height ? r.width * r.height : side * side * (16 / 9);
  return pixels * NOMINAL_BYTES_PER_PIXEL_S;
}

/**
 * Pick the rendition to stream: among those whose short side is at most the screen's need (the smallest if
 * none is), the largest whose bitrate fits HEADROOM x the throughput; the smallest when none fits or the
 * throughput is unknown.
 * @param {Rendition[]} renditions
 * @param {{need: number, throughput: number|null, durationS: number|null, headroom?: number}} viewer
 *   `throughput` in bytes per second
 * @returns {Rendition|null}
 */
export function pickRendition(renditions, { need, throughput, durationS, headroom = HEADROOM }) {
  const usable = renditions.filter((r) => r && r.url);
  if (!usable.length) return null;
  const bySize = [...usable].sort((a, b) => shortSide(a) - shortSide(b)
    || bytesPerSecond(a, durationS) - bytesPerSecond(b, durationS));
  const smallest = bySize[0];
  const fitScreen = bySize.filter((r) => shortSide(r) <= need);
  if (!fitScreen.length || !throughput || throughput <= 0) return smallest;
  const fitNetwork = fitScreen.filter((r) => bytesPerSecond(r, durationS) <= headroom * throughput);
  return fitNetwork.length ? fitNetwork[fitNetwork.length - 1] : smallest;
}

/**
 * The renditions of a video from its API view: `renditions` when the server lists them, else the older
 * `media` map (label -> URL) with sizes unknown.
 * @param {{renditions?: Rendition[], media?: Object<string, string>}} video
 * @returns {Rendition[]}
 */
export function renditionsOf(video) {
  if (Array.isArray(video.renditions) && video.renditions.length) return video.renditions;
  return Object.entries(video.media || {}).map(([label, url]) => ({ label, url, width: null, height: null, bytes: null }));
}

/**
 * Throughput (bytes per second) of a set of fetches: all their bytes over the time at least one was running,
 * so two fetches sharing the link count as one link, not two half-speed ones. Null when too little was moved.
 * @param {Fetch[]} fetches
 * @returns {number|null}
 */
export function throughputOf(fetches) {
  const real = fetches.filter((f) => f.bytes > 0 && f.end > f.start).sort((a, b) => a.start - b.start);
  const bytes = real.reduce((sum, f) => sum + f.bytes, 0);
  if (bytes < MIN_SAMPLE_BYTES) return null;
  let busy = 0;
  let from = -Infinity;
  let to = -Infinity;
  for (const f of real) {
    if (f.start > to) {
      if (to > from) busy += to - from;
      [from, to] = [f.start, f.end];
    } else {
      to = Math.max(to, f.end);
    }
  }
  if (to > from) busy += to - from;
  return busy > 0 ? bytes / (busy / 1000) : null;
}

/**
 * A starting estimate (bytes per second) from what the browser says of the connection: `downlink` in
 * Mbit/s; none when data saving is on or the connection is 2G-class (start small, then measure).
 * @param {{downlink?: number, effectiveType?: string, saveData?: boolean}|undefined} connection
 * @returns {number|null}
 */
export function connectionHint(connection) {
  if (!connection || connection.saveData) return null;
  if (/(^|-)2g$/.test(connection.effectiveType || '')) return null;
  return connection.downlink > 0 ? (connection.downlink * 1_000_000) / 8 : null;
}

/**
 * Whether a link of this throughput (bytes per second; null when unknown) is too scarce to spend on anything
 * but the video on screen and the next one.
 * @param {number|null} throughput
 * @returns {boolean}
 */
export function scarce(throughput) {
  return !throughput || throughput < SCARCE_BPS;
}

/**
 * The playback policy a page asks for: `?rendition=720` streams that label always, with the player's old
 * habits (posters, the video behind kept loading), kept for comparisons; anything else chooses per viewer.
 * @param {string} search location.search
 * @returns {{fixed: string|null}}
 */
export function policyFrom(search) {
  const fixed = new URLSearchParams(search).get('rendition');
  return { fixed: fixed && /^[0-9a-z]{1,8}$/.test(fixed) && fixed !== 'auto' ? fixed : null };
}

/** The browser side: watches media fetches, keeps the estimate across sessions, and chooses for a video. */
export class RenditionChooser {
  constructor() {
    this.policy = policyFrom(location.search);
    /** @type {Map<string, Fetch>} recent media fetches by URL, oldest first */
    this.fetches = new Map();
    /** @type {Set<string>} media URLs last answered from the browser's cache (their speed is not the link's) */
    this.cached = new Set();
    /** @type {number|null} bytes per second */
    this.estimate = readStored() ?? connectionHint(navigator.connection);
    this.observe();
  }

  observe() {
    if (typeof PerformanceObserver === 'undefined') return;
    // An observer, not getEntriesByType: the resource timing buffer stops filling after 250 entries.
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.record(/** @type {PerformanceResourceTiming} */ (entry));
    });
    try {
      observer.observe({ type: 'resource', buffered: true });
    } catch {
      // an old browser: the estimate stays the stored one
    }
  }

  /** @param {PerformanceResourceTiming} entry */
  record(entry) {
    // Rendition fetches only (range requests included); a poster says nothing of the link.
    if (!/\/api\/videos\/[^/]+\/media\/(?!poster)/.test(entry.name)) return;
    if (entry.transferSize === 0 && entry.decodedBodySize > 0) { // from the cache: drop what the player timed
      this.cached.add(entry.name);
      this.fetches.delete(entry.name);
      return;
    }
    // A small one (headers only: a range request the media stack dropped) says nothing either.
    if (entry.transferSize < MIN_SAMPLE_BYTES) return;
    this.cached.delete(entry.name);
    const start = entry.requestStart > 0 ? entry.requestStart : entry.startTime;
    this.add(entry.name, { start, end: entry.responseEnd, bytes: entry.transferSize });
  }

  /**
   * Rendition bytes the player saw arrive (its buffered share of the file) between `start` and `end` (ms).
   * Chrome leaves a media response that is still streaming out of Resource Timing, so on a slow link this is
   * often the only measure; a Resource Timing entry for the same URL replaces it, and a cached copy drops it.
   * @param {string} url
   * @param {Fetch} fetch
   */
  recordDownload(url, fetch) {
    const absolute = new URL(url, location.href).href;
    if (fetch.bytes >= MIN_SAMPLE_BYTES && !this.cached.has(absolute)) this.add(absolute, fetch);
  }

  /** @param {string} url @param {Fetch} fetch */
  add(url, fetch) {
    this.fetches.delete(url);
    this.fetches.set(url, fetch);
    while (this.fetches.size > WINDOW) this.fetches.delete(this.fetches.keys().next().value);
    const measured = throughputOf([...this.fetches.values()]);
    if (measured) {
      this.estimate = measured;
      writeStored(measured);
    }
  }

  /** Whether the link is scarce (see `scarce`) by the current estimate. */
  scarce() {
    return scarce(this.estimate);
  }

  /**
   * The rendition to stream for a video (an API view), chosen now for the screen and the estimate.
   * @param {{renditions?: Rendition[], media?: Object<string, string>, duration_s?: number|null}} video
   * @returns {Rendition|null}
   */
  choose(video) {
    const renditions = renditionsOf(video);
    if (this.policy.fixed) {
      const fixed = renditions.find((r) => r.label === this.policy.fixed);
      if (fixed) return fixed;
    }
    const need = screenNeed(window.innerWidth, window.innerHeight, window.devicePixelRatio || 1);
    return pickRendition(renditions, { need, throughput: this.estimate, durationS: video.duration_s ?? null });
  }
}

/** @returns {number|null} */
function readStored() {
  try {
    const value = Number(JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null')?.bps);
    return value > 0 ? value : null;
  } catch {
    return null; // storage blocked or garbled: measure afresh
  }
}

/** @param {number} bps */
function writeStored(bps) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ bps: Math.round(bps), at: Date.now() }));
  } catch {
    // storage full or blocked: the estimate lives for this page only
  }
}

let shared = null;

/** The page's one chooser (its estimate is shared by every slide). */
export function chooser() {
  if (!shared) shared = new RenditionChooser();
  return shared;
}
