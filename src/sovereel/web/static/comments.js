// The comments drawer: list, post, reply one level deep, delete one's own (or any on one's own video).
import { api, here, requireSignIn, toast, viewer } from './api.js';
import { $, avatar, compact, el, profileUrl, timeAgo } from './dom.js';
import { renderCommentSafety, reportButton } from './comment_safety.js';

export class CommentsDrawer {
  constructor(root = document.getElementById('comments-drawer')) {
    this.root = root;
    this.backdrop = document.getElementById('comments-backdrop');
    this.list = $('[data-role=list]', root);
    this.status = $('[data-role=status]', root);
    this.title = $('#comments-title', root);
    this.form = $('[data-role=form]', root);
    this.input = this.form.elements.body;
    this.replying = $('[data-role=replying]', root);
    this.slide = null;
    this.replyTo = null;
    this.replyLists = new Map(); // top-level comment id -> its <ol> of replies
    this.onClose = null;
    $('[data-role=close]', root).addEventListener('click', () => this.close());
    this.backdrop.addEventListener('click', () => this.close());
    $('[data-role=cancel-reply]', root).addEventListener('click', () => this.setReply(null));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.post();
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.isOpen) this.close();
    });
    if (!viewer) {
      this.form.hidden = true;
      const signin = $('[data-role=signin]', root);
      signin.hidden = false;
      $('[data-role=signin-link]', root).addEventListener('click', () => {
        $('[data-role=signin-link]', root).href = `/login?next=${encodeURIComponent(here())}`;
      });
    }
  }

  get isOpen() {
    return !this.root.hidden;
  }

  async open(slide) {
    this.slide = slide;
    this.setReply(null);
    this.renderTitle();
    this.list.replaceChildren();
    this.replyLists.clear();
    this.status.textContent = 'Loading…';
    this.root.hidden = false;
    this.backdrop.hidden = false;
    requestAnimationFrame(() => this.root.classList.add('open'));
    try {
      const data = await api('GET', `/api/videos/${encodeURIComponent(slide.v.id)}/comments`);
      const { comments } = data;
      if (this.slide !== slide) return;
      this.list.replaceChildren(...comments.map((c) => this.renderComment(c)));
      this.status.textContent = comments.length ? '' : 'No comments yet. Say something nice.';
      renderCommentSafety(this, slide, data); // who may comment, "n hidden", the creator's per-video setting
    } catch (err) {
      this.status.textContent = err.message;
    }
  }

  close() {
    if (!this.isOpen) return;
    this.root.classList.remove('open');
    this.root.hidden = true;
    this.backdrop.hidden = true;
    this.slide = null;
    if (this.onClose) this.onClose();
  }

  renderTitle() {
    const n = this.slide ? this.slide.v.comment_count : 0;
    this.title.textContent = n === 1 ? '1 comment' : `${compact(n)} comments`;
  }

  setCount(delta) {
    const slide = this.slide;
    slide.v.comment_count = Math.max(0, slide.v.comment_count + delta);
    slide.renderCounts();
    this.renderTitle();
  }

  setReply(comment) {
    this.replyTo = comment;
    this.replying.hidden = !comment;
    if (comment) {
      $('[data-role=replying-to]', this.replying).textContent = `@${comment.author ? comment.author.username : '…'}`;
      this.input.focus();
    }
  }

  renderComment(c, isReply = false) {
    const author = c.author || { username: 'deleted', display_name: 'deleted' };
    const actions = el('div', { class: 'comment-actions' },
      el('time', { class: 'muted', datetime: new Date(c.created_at * 1000).toISOString(), text: timeAgo(c.created_at) }),
      isReply ? null : el('button', {
        class: 'link-btn', type: 'button', 'data-testid': 'reply-btn', text: 'Reply',
        onclick: () => { if (requireSignIn('Sign in to reply.')) this.setReply(c); },
      }),
      c.is_own || c.can_delete ? el('button', {
        class: 'link-btn danger', type: 'button', 'data-testid': 'delete-comment-btn', text: 'Delete',
        onclick: () => this.remove(c, item),
      }) : null,
      c.is_own || !viewer ? null : reportButton(c),
      c.hidden ? el('span', { class: 'muted comment-hidden-note', 'data-testid': 'comment-hidden-note',
        text: 'Hidden from others by the creator\'s filters' }) : null);
    const replies = el('ol', { class: 'replies', 'data-testid': 'replies' },
      (c.replies || []).map((r) => this.renderComment(r, true)));
    const item = el('li', { class: 'comment', 'data-testid': 'comment', 'data-comment-id': c.id },
      el('a', { href: profileUrl(author.username), class: 'comment-avatar' }, avatar(author, 'sm')),
      el('div', { class: 'comment-main' },
        el('a', { class: 'comment-author', href: profileUrl(author.username), text: author.display_name || author.username }),
        el('p', { class: 'comment-body', 'data-testid': 'comment-body', text: c.body }),
        actions,
        isReply ? null : replies));
    if (!isReply) this.replyLists.set(c.id, replies);
    return item;
  }

  async post() {
    if (!this.slide || !requireSignIn('Sign in to comment.')) return;
    const body = this.input.value.trim();
    if (!body) return;
    const slide = this.slide;
    const parent = this.replyTo;
    const submit = this.form.querySelector('[type=submit]');
    submit.disabled = true;
    try {
      const comment = await api('POST', `/api/videos/${encodeURIComponent(slide.v.id)}/comments`,
        { body, parent_id: parent ? parent.id : null });
      this.input.value = '';
      this.setReply(null);
      if (this.slide !== slide) return;
      if (parent && this.replyLists.has(parent.id)) {
        this.replyLists.get(parent.id).append(this.renderComment(comment, true));
        parent.replies = [...(parent.replies || []), comment];
      } else {
        this.list.prepend(this.renderComment(comment));
        this.list.scrollTop = 0;
      }
      this.status.textContent = '';
      this.setCount(+1);
    } catch (err) {
      toast(err.message, { error: true });
    } finally {
      submit.disabled = false;
    }
  }

  async remove(c, item) {
    const slide = this.slide;
    item.classList.add('removing');
    try {
      await api('DELETE', `/api/comments/${encodeURIComponent(c.id)}`);
      item.remove();
      if (this.slide === slide) {
        this.setCount(-(1 + (c.parent_id ? 0 : (c.replies || []).length)));
        if (!this.list.children.length) this.status.textContent = 'No comments yet. Say something nice.';
      }
      toast('Comment deleted');
    } catch (err) {
      item.classList.remove('removing');
      toast(err.message, { error: true });
    }
  }
}
