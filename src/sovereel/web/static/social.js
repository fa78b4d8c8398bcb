// Like, follow and share: optimistic on screen, rolled back if the server says no.
import { api, requireSignIn, toast } from './api.js';

/** Toggle the like on a slide's video (or set it, when `want` is given). */
export async function toggleLike(slide, want = null) {
  if (!requireSignIn('Sign in to like videos.')) return;
  const v = slide.v;
  const target = want === null ? !v.liked : want;
  if (target === v.liked || slide.pending.has('like')) return;
  const before = { liked: v.liked, like_count: v.like_count };
  slide.pending.add('like');
  v.liked = target;
  v.like_count = Math.max(0, v.like_count + (target ? 1 : -1));
  slide.renderCounts();
  try {
    const result = await api(target ? 'POST' : 'DELETE', `/api/videos/${encodeURIComponent(v.id)}/like`);
    v.liked = result.liked;
    v.like_count = result.like_count;
  } catch (err) {
    Object.assign(v, before);
    toast(err.message, { error: true });
  } finally {
    slide.pending.delete('like');
    slide.renderCounts();
  }
}

/**
 * Follow or unfollow `username`. `apply(following)` redraws every place showing that creator; it is called
 * at once with the new state and again with the old one if the server refuses.
 */
export async function setFollow(username, following, apply) {
  if (!requireSignIn('Sign in to follow creators.')) return false;
  apply(following);
  try {
    await api(following ? 'POST' : 'DELETE', `/api/users/${encodeURIComponent(username)}/follow`);
    return true;
  } catch (err) {
    apply(!following);
    toast(err.message, { error: true });
    return false;
  }
}

/** Copy text to the clipboard: the async Clipboard API, else a hidden textarea and execCommand. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // permission refused (or no focus): try the old way
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** Share = copy the link and count the share. */
export async function share(slide) {
  const v = slide.v;
  const url = new URL(v.url || `/v/${v.id}`, location.origin).href;
  const copied = await copyText(url);
  const before = v.share_count;
  v.share_count += 1;
  slide.renderCounts();
  toast(copied ? 'Link copied' : `Copy this link: ${url}`, { ms: copied ? 2000 : 6000 });
  try {
    const result = await api('POST', `/api/videos/${encodeURIComponent(v.id)}/share`, { channel: 'link' });
    v.share_count = result.share_count;
  } catch (err) {
    v.share_count = before;
    toast(err.message, { error: true });
  }
  slide.renderCounts();
}
