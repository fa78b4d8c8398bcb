// Video grids (profile, hashtag): "Load more" pages through next_cursor.
import { api, toast } from './api.js';
import { compact, el, icon } from './dom.js';

function gridItem(v) {
  let badge = null;
  if (v.status === 'processing') badge = el('span', { class: 'badge badge-processing', text: 'Processing…' });
  else if (v.status === 'failed') badge = el('span', { class: 'badge badge-failed', text: 'Failed' });
  else if (v.visibility === 'followers') badge = el('span', { class: 'badge', text: 'Followers' });
  else if (v.visibility === 'private') badge = el('span', { class: 'badge', text: 'Only me' });
  return el('a', { class: 'grid-item', href: v.url, 'data-testid': 'grid-item', 'data-video-id': v.id, 'data-status': v.status },
    v.poster_url
      ? el('img', { class: 'grid-poster', src: v.poster_url, alt: '', loading: 'lazy' })
      : el('span', { class: 'grid-poster grid-placeholder' }),
    badge,
    el('span', { class: 'grid-caption', text: (v.caption || '').slice(0, 90) }),
    el('span', { class: 'grid-views' }, icon('play', 'icon-sm'), compact(v.view_count)));
}

export function bindGrid(grid = document.querySelector('[data-testid=video-grid]')) {
  if (!grid) return;
  const button = grid.parentElement.querySelector('[data-role=load-more]');
  if (!button) return;
  button.addEventListener('click', async () => {
    const cursor = grid.dataset.nextCursor;
    if (!cursor) return;
    button.disabled = true;
    try {
      const page = await api('GET', `${grid.dataset.source}?cursor=${encodeURIComponent(cursor)}`);
      grid.append(...page.videos.map(gridItem));
      grid.dataset.nextCursor = page.next_cursor || '';
      button.hidden = !page.next_cursor;
    } catch (err) {
      toast(err.message, { error: true });
    } finally {
      button.disabled = false;
    }
  });
}

bindGrid();
