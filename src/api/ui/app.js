// The lrogate dashboard: lists the caller's operations (GET /operations,
// refreshed every second), submits a document URL (POST /operations with
// documentUrl), cancels a running one (DELETE /operations/{id}) and shows a
// result (the compat results route, the upstream's final JSON), and what the
// gateway learned of how long each listed analyzer takes (GET
// /learned-durations, every 10 s). The API key, if any, stays in this tab's sessionStorage and
// goes out as Authorization: Bearer. Text from the server is only ever set
// as textContent.
'use strict';

const $ = (sel) => document.querySelector(sel);
const KEY_SLOT = 'lrogate.apiKey';
let apiKey = sessionStorage.getItem(KEY_SLOT) || '';
const known = new Map(); // id -> latest list item

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (apiKey) headers['Authorization'] = 'Bearer ' + apiKey;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  if (res.status >= 400) {
    const err = json && json.error && typeof json.error === 'object' ? json.error : {};
    const message = err.message || (json && json.message) || res.statusText;
    throw new ApiError(res.status, err.code || '', message);
  }
  return { status: res.status, json, text };
}

function showBanner(message) {
  const b = $('#banner');
  b.textContent = message;
  b.hidden = !message;
}

function describe(err) {
  if (err instanceof ApiError) {
    const hint = err.status === 401 ? ' — enter the API key above' : '';
    return `${err.status} ${err.code || 'Error'}: ${err.message}${hint}`;
  }
  return 'The gateway cannot be reached: ' + err.message;
}

function elapsed(op, now) {
  const start = Date.parse(op.createdDateTime);
  const terminal = ['Succeeded', 'Failed', 'Canceled'].includes(op.status);
  const end = terminal ? Date.parse(op.lastUpdatedDateTime) : now;
  const s = Math.max(0, (end - start) / 1000);
  if (s < 60) return s.toFixed(1) + ' s';
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  if (text !== undefined) td.textContent = text;
  tr.appendChild(td);
  return td;
}

function render() {
  const tbody = $('#ops tbody');
  const now = Date.now();
  const ops = [...known.values()].sort((a, b) => Date.parse(b.createdDateTime) - Date.parse(a.createdDateTime));
  tbody.replaceChildren();
  for (const op of ops) {
    const tr = document.createElement('tr');
    tr.dataset.id = op.id;
    tr.dataset.status = op.status;
    const id = cell(tr, op.id.length > 13 ? op.id.slice(0, 8) + '…' + op.id.slice(-4) : op.id, 'id');
    id.title = op.id;
    cell(tr, op.analyzerId, 'analyzer');
    const st = document.createElement('span');
    st.className = 'status ' + op.status;
    st.textContent = op.status;
    cell(tr, undefined, 'state').appendChild(st);
    cell(tr, elapsed(op, now), 'elapsed');
    const out = cell(tr, undefined, 'outcome');
    if (op.status === 'Succeeded') {
      const a = document.createElement('a');
      a.href = resultPath(op);
      a.className = 'result-link';
      a.textContent = 'result';
      a.addEventListener('click', (e) => { e.preventDefault(); openResult(op); });
      out.appendChild(a);
    } else if (op.status === 'Running' || op.status === 'NotStarted') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'cancel';
      b.textContent = 'Cancel';
      b.addEventListener('click', () => cancel(op));
      out.appendChild(b);
    } else if (op.error) {
      out.textContent = (op.error.code ? op.error.code + ': ' : '') + (op.error.message || '');
    } else {
      out.textContent = '—';
    }
    tbody.appendChild(tr);
  }
  $('#empty').hidden = ops.length > 0;
}

function resultPath(op) {
  return `/pro-mode/content-analyzers/${encodeURIComponent(op.analyzerId)}/results/${encodeURIComponent(op.id)}`;
}

async function cancel(op) {
  if (!window.confirm(`Cancel operation ${op.id}? The gateway stops following it.`)) return;
  try {
    const r = await api('DELETE', '/operations/' + encodeURIComponent(op.id));
    if (r.json && r.json.status) known.set(op.id, { ...op, ...r.json });
    render();
  } catch (err) {
    showBanner(describe(err));
  }
}

async function refresh() {
  try {
    const r = await api('GET', '/operations?top=100');
    known.clear();
    for (const op of r.json.value || []) known.set(op.id, op);
    $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    showBanner('');
  } catch (err) {
    showBanner(describe(err));
  }
  render();
  refreshLearned();
}

function seconds(s) {
  if (s < 60) return s.toFixed(1) + ' s';
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

let learnedAt = 0;
async function refreshLearned() {
  const analyzers = [...new Set([...known.values()].map((op) => op.analyzerId).filter(Boolean))].slice(0, 20);
  if (analyzers.length === 0 || Date.now() - learnedAt < 10000) return;
  learnedAt = Date.now();
  try {
    const q = analyzers.map((a) => 'analyzer=' + encodeURIComponent(a)).join('&');
    const r = await api('GET', '/learned-durations?' + q);
    const tbody = $('#learned tbody');
    tbody.replaceChildren();
    for (const l of r.json.value || []) {
      const tr = document.createElement('tr');
      tr.dataset.analyzer = l.analyzerId;
      cell(tr, l.analyzerId, 'analyzer');
      cell(tr, l.resource, 'resource');
      cell(tr, seconds(l.medianSeconds), 'median');
      cell(tr, seconds(l.p90Seconds), 'p90');
      cell(tr, String(l.samples), 'samples');
      tbody.appendChild(tr);
    }
    $('#learned-note').textContent = r.json.schedule === 'learned'
      ? `Polls follow these once an analyzer has ${r.json.minSamples} completions.`
      : 'The poll schedule is fixed (--poll-schedule fixed): these are learned, not used.';
    $('#learned-section').hidden = (r.json.value || []).length === 0;
  } catch (err) {
    /* the operations list shows the gateway's errors */
  }
}

async function openResult(op) {
  const path = resultPath(op);
  $('#result').hidden = false;
  $('#result-id').textContent = op.id;
  $('#result-path').textContent = 'GET ' + path;
  $('#result-body').textContent = 'Loading…';
  try {
    const r = await api('GET', path);
    let pretty = r.text;
    try { pretty = JSON.stringify(JSON.parse(r.text), null, 2); } catch (e) { /* keep as sent */ }
    $('#result-body').textContent = pretty;
    const old = $('#result-download').href;
    if (old.startsWith('blob:')) URL.revokeObjectURL(old);
    $('#result-download').href = URL.createObjectURL(new Blob([r.text], { type: 'application/json' }));
    $('#result').scrollIntoView({ behavior: 'smooth' });
  } catch (err) {
    $('#result-body').textContent = describe(err);
  }
}

async function submit(e) {
  e.preventDefault();
  const note = $('#submit-note');
  const button = $('#submit');
  button.disabled = true;
  note.textContent = 'Submitting…';
  try {
    const r = await api('POST', '/operations', {
      analyzerId: $('#analyzer').value.trim(),
      documentUrl: $('#document-url').value.trim(),
    });
    const op = r.json;
    known.set(op.id, { analyzerId: $('#analyzer').value.trim(), ...op });
    note.textContent = 'Submitted ' + op.id;
    render();
  } catch (err) {
    note.textContent = describe(err);
  } finally {
    button.disabled = false;
  }
}

function loop() {
  const next = () => setTimeout(loop, 1000);
  if (document.hidden) return next();
  refresh().finally(next);
}

document.addEventListener('DOMContentLoaded', () => {
  $('#api-key').value = apiKey;
  $('#key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    apiKey = $('#api-key').value.trim();
    sessionStorage.setItem(KEY_SLOT, apiKey);
    refresh();
  });
  $('#key-forget').addEventListener('click', () => {
    apiKey = '';
    $('#api-key').value = '';
    sessionStorage.removeItem(KEY_SLOT);
    known.clear();
    refresh();
  });
  $('#submit-form').addEventListener('submit', submit);
  $('#result-close').addEventListener('click', (e) => { e.preventDefault(); $('#result').hidden = true; });
  loop();
});
