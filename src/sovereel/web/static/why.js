// "Why this video?": the record kept when For You served the video, in words a person can read.
import { api, viewer } from './api.js';
import { el } from './dom.js';

// What each predicted action is called in the score table ("predicted like × weight").
const TASK_WORDS = {
  complete: 'watching to the end',
  watch_time: 'watch time (for its length)',
  like: 'like',
  share: 'share',
  comment: 'comment',
  follow: 'following the creator',
};
// Terms of rankings that are not a weighted sum of predictions (the interim recency × engagement ranking).
const OTHER_TERMS = {
  engagement: 'engagement (views, likes, comments, shares; log scale)',
  recency: 'recency (halves every 48 hours)',
};
const SOURCE_WORDS = {
  embedding: 'similar to videos you watched and liked',
  following: 'a creator you follow',
  trending: 'trending in your region',
  exploration: 'new videos finding a first audience',
  co_engagement: 'often watched together with videos you engaged with',
  content: 'captions and hashtags like those you engaged with',
  sound: 'the sound of a video you engaged with',
  recent_popular: 'popular and recent in your region',
  rewatch: 'something you watched before',
};

export function termLabel(name) {
  if (TASK_WORDS[name]) return `predicted ${TASK_WORDS[name]} × weight`;
  return OTHER_TERMS[name] || name.replaceAll('_', ' ');
}

export function sourceLabel(name) {
  return SOURCE_WORDS[name] || name.replaceAll('_', ' ');
}

function number(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString(undefined, { maximumSignificantDigits: 3 });
}

/** The record for `video`: the server's (with score terms) when it has one for this viewer, else the one the feed item carried. */
export async function loadReason(video) {
  if (viewer) {
    try {
      return { ...(await api('GET', `/api/videos/${encodeURIComponent(video.id)}/why`)), full: true };
    } catch (err) {
      if (err.status !== 404 && err.status !== 401) throw err;
    }
  }
  return { ...(video.reason || {}), full: false };
}

function scoreTable(reason) {
  const terms = Object.entries(reason.terms || {});
  if (!terms.length) return null;
  // Largest contribution first: the top rows are what decided the rank.
  terms.sort((a, b) => Math.abs(Number(b[1])) - Math.abs(Number(a[1])));
  return el('table', { class: 'why-terms', 'data-testid': 'why-terms' },
    el('caption', { text: 'How the score was made' }),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Term' }), el('th', { scope: 'col', text: 'Value' }))),
    el('tbody', {}, terms.map(([name, value]) => el('tr', { 'data-term': name },
      el('th', { scope: 'row', text: termLabel(name) }), el('td', { text: number(value) })))),
    reason.score === null || reason.score === undefined ? null
      : el('tfoot', {}, el('tr', {}, el('th', { scope: 'row', text: 'Score' }), el('td', { text: number(reason.score) }))));
}

/** The panel's content for a loaded record. */
export function renderReason(reason) {
  const sentences = reason.explanation || [];
  const sources = reason.sources || [];
  const parts = [
    reason.personalised === false
      ? el('p', { class: 'np-note', 'data-testid': 'why-not-personalised', text: 'Not personalised: ranked without your activity' })
      : null,
    sentences.length
      ? el('ul', { class: 'why-sentences', 'data-testid': 'why-sentences' }, sentences.map((s) => el('li', { text: s })))
      : el('p', { class: 'muted', text: 'No explanation was recorded for this video.' }),
    scoreTable(reason),
    el('dl', { class: 'why-facts', 'data-testid': 'why-facts' },
      el('dt', { text: 'Found through' }),
      el('dd', { text: sources.length ? sources.map(sourceLabel).join(' · ') : '–' }),
      el('dt', { text: 'Model' }), el('dd', { 'data-testid': 'why-model', text: reason.model_version || '–' }),
      el('dt', { text: 'Parameters' }), el('dd', { 'data-testid': 'why-params', text: reason.params_version || '–' })),
    el('p', {
      class: 'why-foot muted',
      text: reason.full ? 'This is the record kept when For You last showed you this video.'
        : viewer ? 'The full record, with the score, is kept for the videos For You shows you.'
          : 'Sign in to see the full record, with the score.',
    }),
  ];
  return parts;
}
