// The upload page: pick or drop a file, XMLHttpRequest upload with real progress, then poll until ready.
import { api, errorFrom } from './api.js';
import { $ } from './dom.js';

const POLL_MS = 1000;
const form = document.getElementById('upload-form');
const fileInput = form.elements.file;
const caption = form.elements.caption;
const dropzone = $('[data-testid=dropzone]', form);
const preview = $('[data-role=preview]', form);
const prompt = $('[data-role=prompt]', form);
const fileName = $('[data-role=file-name]', form);
const counter = $('[data-role=counter]', form);
const errorBox = $('[data-testid=upload-error]', form);
const statusBox = $('[data-role=status]', form);
const progress = $('progress', statusBox);
const progressText = $('[data-testid=upload-progress-text]', statusBox);
const statusLine = $('[data-testid=processing-status]', statusBox);
const watchLink = $('[data-role=watch]', statusBox);
const retryBtn = $('[data-role=retry]', statusBox);
const againBtn = $('[data-role=again]', statusBox);
const submitBtn = $('[data-testid=upload-submit]', form);
const cancelBtn = $('[data-role=cancel]', form);
const maxBytes = Number(form.dataset.maxBytes);
const maxMb = Number(form.dataset.maxMb);
const maxCaption = Number(form.dataset.maxCaption);

let file = null;
let xhr = null;
let previewUrl = null;
let pollTimer = 0;
let busy = false;

const captionLength = () => [...caption.value].length; // code points, as the server counts them

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function refresh() {
  const n = captionLength();
  counter.textContent = `${n}/${maxCaption}`;
  counter.classList.toggle('over', n > maxCaption);
  submitBtn.disabled = busy || !file || n > maxCaption;
}

function choose(picked) {
  if (busy || !picked) return;
  showError('');
  file = picked;
  fileName.textContent = `${picked.name} · ${(picked.size / 1048576).toFixed(1)} MB`;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(picked);
  preview.src = previewUrl;
  preview.hidden = false;
  prompt.hidden = true;
  preview.play().catch(() => {});
  if (picked.size > maxBytes) showError(`This file is ${(picked.size / 1048576).toFixed(0)} MB; the limit is ${maxMb} MB.`);
  refresh();
}

fileInput.addEventListener('change', () => choose(fileInput.files[0]));
// A file the browser cannot play (it may still be a valid upload, e.g. some MKV): show the prompt instead.
preview.addEventListener('error', () => {
  if (!preview.getAttribute('src')) return;
  preview.hidden = true;
  prompt.hidden = false;
});
caption.addEventListener('input', refresh);
for (const type of ['dragenter', 'dragover']) {
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add('dragging');
  });
}
for (const type of ['dragleave', 'drop']) {
  dropzone.addEventListener(type, () => dropzone.classList.remove('dragging'));
}
dropzone.addEventListener('drop', (event) => {
  event.preventDefault();
  const dropped = event.dataTransfer && event.dataTransfer.files[0];
  if (dropped) choose(dropped);
});

function setBusy(value) {
  busy = value;
  for (const field of [caption, form.elements.visibility, fileInput]) field.disabled = value;
  dropzone.classList.toggle('disabled', value);
  cancelBtn.hidden = !value;
  refresh();
}

function setProgress(percent) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  progress.value = p;
  progressText.textContent = `${p} %`;
}

function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusLine.textContent = text;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!file || busy) return;
  if (file.size > maxBytes) {
    showError(`This file is larger than the ${maxMb} MB limit.`);
    return;
  }
  showError('');
  upload();
});

function upload() {
  const data = new FormData();
  data.append('caption', caption.value);
  data.append('visibility', form.elements.visibility.value);
  // "Use this sound": the chosen sound and how it meets the video's own audio.
  if (form.elements.sound_id && form.elements.sound_id.value) {
    data.append('sound_id', form.elements.sound_id.value);
    data.append('sound_mode', form.elements.sound_mode.value);
  }
  data.append('file', file, file.name);
  setBusy(true);
  statusBox.hidden = false;
  watchLink.hidden = retryBtn.hidden = againBtn.hidden = true;
  setProgress(0);
  setStatus('uploading', 'Uploading…');
  submitBtn.hidden = true;
  statusBox.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/videos');
  xhr.responseType = 'text';
  xhr.setRequestHeader('accept', 'application/json');
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable) setProgress((event.loaded / event.total) * 100);
  };
  xhr.upload.onload = () => {
    setProgress(100);
    setStatus('checking', 'Checking the video…');
  };
  xhr.onload = () => {
    const request = xhr;
    xhr = null;
    if (request.status === 202) {
      const body = JSON.parse(request.responseText);
      setProgress(100);
      setStatus('processing', 'Processing…');
      cancelBtn.hidden = true;
      poll(body.id);
      return;
    }
    failed(errorFrom(request.status, request.responseText).message, request.status);
  };
  xhr.onerror = () => {
    xhr = null;
    // The server may close the connection early on a file it refuses (e.g. too large) before answering.
    failed('The upload was interrupted: check your connection and the file size, then try again.', 0);
  };
  xhr.onabort = () => {
    xhr = null;
    setBusy(false);
    submitBtn.hidden = false;
    statusBox.hidden = true;
    showError('Upload cancelled.');
  };
  xhr.send(data);
}

function failed(message, status) {
  setBusy(false);
  submitBtn.hidden = false;
  statusBox.hidden = true;
  const prefix = { 413: 'Too large: ', 415: 'Not a supported video: ', 422: 'Cannot use this video: ' }[status] || '';
  showError(prefix + message);
}

cancelBtn.addEventListener('click', () => {
  if (xhr) xhr.abort();
});

async function poll(videoId) {
  clearTimeout(pollTimer);
  let video;
  try {
    video = await api('GET', `/api/videos/${encodeURIComponent(videoId)}`);
  } catch (err) {
    setStatus('processing', `Processing… (${err.message}; still checking)`);
    pollTimer = setTimeout(() => poll(videoId), POLL_MS * 3);
    return;
  }
  if (video.status === 'ready') {
    setStatus('ready', 'Your video is ready.');
    watchLink.href = video.url;
    watchLink.hidden = false;
    againBtn.hidden = false;
    setBusy(false);
    submitBtn.disabled = true;
    return;
  }
  if (video.status === 'failed') {
    setStatus('failed', `Processing failed: ${video.failure_reason || 'unknown reason'}`);
    retryBtn.hidden = false;
    retryBtn.onclick = () => retry(videoId);
    againBtn.hidden = false;
    setBusy(false);
    return;
  }
  const attempts = video.processing && video.processing.attempts > 1 ? ` (attempt ${video.processing.attempts})` : '';
  setStatus('processing', `Processing…${attempts}`);
  pollTimer = setTimeout(() => poll(videoId), POLL_MS);
}

async function retry(videoId) {
  retryBtn.hidden = true;
  setStatus('processing', 'Processing…');
  try {
    await api('POST', `/api/videos/${encodeURIComponent(videoId)}/retry`);
  } catch (err) {
    setStatus('failed', err.message);
    retryBtn.hidden = false;
    return;
  }
  poll(videoId);
}

againBtn.addEventListener('click', () => {
  clearTimeout(pollTimer);
  form.reset();
  file = null;
  preview.hidden = true;
  preview.removeAttribute('src');
  prompt.hidden = false;
  fileName.textContent = '';
  statusBox.hidden = true;
  submitBtn.hidden = false;
  showError('');
  refresh();
});

refresh();
