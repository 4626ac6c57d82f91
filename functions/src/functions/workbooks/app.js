// The workbooks page: a client of entra-monitor's public API. Every tile names the endpoint it
// reads (the same JSON anyone can ask for), shows that endpoint's KQL (`explain=true`), and
// links to the records behind it (`/api/logs/...` with the same filters). Text from the API is
// only ever set as text (never parsed as HTML); the page loads and calls this origin alone.
'use strict';

const KEY_API = 'entra-monitor.api-key';
const KEY_FUNCTION = 'entra-monitor.function-key';
const MODERN_CLIENTS = ['Browser', 'Mobile Apps and Desktop clients'];
const number = new Intl.NumberFormat();
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

// ---- small DOM helpers (text only) ----

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c) e.append(c);
  return e;
}

function cell(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return number.format(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') {
    const t = JSON.stringify(v);
    return t.length > 160 ? t.slice(0, 157) + '…' : t;
  }
  return String(v);
}

// ---- the filters and the credential ----

const state = { tab: 'signins', range: '7d', tenant: '', app: '', user: '', from: '', to: '' };

/// Fixes the range to absolute times (to the next whole minute), so every tile of a render
/// reads the same records.
function fixRange() {
  const hours = { '24h': 24, '7d': 168, '30d': 720 }[state.range] || 168;
  const to = new Date(Math.ceil(Date.now() / 60000) * 60000);
  const from = new Date(to.getTime() - hours * 3600000);
  state.from = from.toISOString();
  state.to = to.toISOString();
  document.getElementById('range-text').textContent =
    `${state.from.slice(0, 16).replace('T', ' ')} to ${state.to.slice(0, 16).replace('T', ' ')} UTC`;
}

function common(extra) {
  const p = { from: state.from, to: state.to };
  if (state.tenant) p.tenant = state.tenant;
  return Object.assign(p, extra || {});
}

/// The sign-in filters (app, user) where an endpoint takes them.
function signInFilters() {
  const p = {};
  if (state.app) p.app = state.app;
  if (state.user) p.user = state.user;
  return p;
}

function url(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return `/api/${path}${s ? '?' + s : ''}`;
}

function headers(extra) {
  const h = Object.assign({ accept: 'application/json' }, extra || {});
  const key = sessionStorage.getItem(KEY_API);
  const fkey = sessionStorage.getItem(KEY_FUNCTION);
  if (key) h['x-api-key'] = key;
  if (fkey) h['x-functions-key'] = fkey;
  return h;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(method, path, params, body) {
  const init = { method, headers: headers(), cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(url(path, params), init);
  } catch (e) {
    throw new ApiError(0, `the server did not answer (${e.message})`);
  }
  let json = null;
  try {
    json = await r.json();
  } catch (_) {
    /* not JSON */
  }
  if (r.status === 401) {
    askForKey(json && json.error ? json.error.message : 'this server asks for a credential');
  }
  // /api/health answers 503 with its full body when collection or the state is unwell.
  const health = path === 'health' && r.status === 503 && json && json.status;
  if (!r.ok && !health) {
    const m = json && json.error ? json.error.message : `HTTP ${r.status}`;
    throw new ApiError(r.status, m);
  }
  return json;
}

const get = (path, params) => call('GET', path, params);

function askForKey(reason) {
  const d = document.getElementById('key-dialog');
  document.getElementById('key-reason').textContent =
    `${reason}. The key is kept in this tab's session storage and sent in a header, never in a URL.`;
  if (!d.open) d.showModal();
  document.getElementById('api-key').focus();
}

// ---- charts (plain SVG) ----

function bars(rows, label, value, opts) {
  const max = Math.max(1, ...rows.map((r) => r[value] || 0));
  const list = el('ol', { class: 'bars' });
  for (const r of rows) {
    const name = r[label] === '' ? '(none)' : cell(r[label]);
    const w = Math.max(0.5, (100 * (r[value] || 0)) / max);
    const extra = opts && opts.extra ? opts.extra(r) : '';
    const link = opts && opts.listing ? opts.listing(r) : null;
    const text = [el('span', { class: 'bar-label', text: name }), el('span', { class: 'bar-value', text: cell(r[value]) }), extra ? el('span', { class: 'bar-extra muted', text: extra }) : null];
    const bar = el('span', { class: 'bar' });
    bar.style.width = `${w.toFixed(1)}%`; // CSSOM, which the page's CSP allows (a style attribute it would not)
    const body = link
      ? el('a', { href: '#', class: 'bar-row', dataset: { listing: link.url, count: r[value] }, onclick: (e) => { e.preventDefault(); openListing(link.title, link.category, link.params); } }, text, bar)
      : el('span', { class: 'bar-row' }, text, bar);
    list.append(el('li', {}, body));
  }
  return list;
}

/// A line chart of `series` ({name, values, class}) over `labels`.
function lines(labels, series, opts) {
  const W = 640, H = 180, L = 48, B = 22, T = 8, R = 8;
  const fmtY = (opts && opts.format) || ((v) => number.format(Math.round(v)));
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const x = (i) => L + (labels.length < 2 ? 0 : (i * (W - L - R)) / (labels.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': (opts && opts.label) || 'chart' });
  for (const f of [0, 0.5, 1]) {
    g.append(svg('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'grid' }));
    const t = svg('text', { x: L - 4, y: y(max * f) + 4, class: 'axis', 'text-anchor': 'end' });
    t.textContent = fmtY(max * f);
    g.append(t);
  }
  const step = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((l, i) => {
    if (i % step) return;
    const t = svg('text', { x: x(i), y: H - 6, class: 'axis', 'text-anchor': 'middle' });
    t.textContent = l;
    g.append(t);
  });
  for (const s of series) {
    const pts = s.values.map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
    g.append(svg('polyline', { points: pts.join(' '), class: `line ${s.class || ''}` }));
  }
  const legend = el('ul', { class: 'legend' }, series.map((s) => el('li', { class: s.class || '' }, el('span', { class: 'swatch' }), s.name)));
  return el('figure', { class: 'line-chart' }, g, legend);
}

function table(rows, columns, opts) {
  const t = el('table', {});
  t.append(el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col', text: c.title || c })))));
  const body = el('tbody', {});
  for (const r of rows) {
    body.append(el('tr', {}, columns.map((c) => {
      const key = c.key || c;
      const v = c.value ? c.value(r) : r[key];
      const link = c.listing ? c.listing(r) : null;
      if (link) {
        return el('td', { class: typeof v === 'number' ? 'num' : '' }, el('a', { href: '#', dataset: { listing: link.url, count: v }, onclick: (e) => { e.preventDefault(); openListing(link.title, link.category, link.params); } }, cell(v)));
      }
      if (c.action) return el('td', {}, c.action(r));
      return el('td', { class: typeof v === 'number' ? 'num' : '' }, cell(v));
    })));
  }
  t.append(body);
  return el('div', { class: 'scroll' }, t, opts && opts.more ? el('p', { class: 'muted', text: opts.more }) : null);
}

function stats(items) {
  return el('dl', { class: 'stats' }, items.map((s) => {
    const value = s.listing
      ? el('a', { href: '#', dataset: { listing: s.listing.url, count: s.value }, onclick: (e) => { e.preventDefault(); openListing(s.listing.title, s.listing.category, s.listing.params); } }, cell(s.value))
      : cell(s.value);
    return el('div', { class: `stat ${s.class || ''}`, dataset: { stat: s.id } }, el('dt', { text: s.label }), el('dd', {}, value), s.note ? el('p', { class: 'muted', text: s.note }) : null);
  }));
}

// ---- the listing behind a tile ----

const LISTING_COLUMNS = {
  SignInLogs: ['TimeGenerated', 'UserPrincipalName', 'AppDisplayName', 'ResultType', 'ResultDescription', 'IPAddress', 'ClientAppUsed', 'ConditionalAccessStatus'],
  AuditLogs: ['TimeGenerated', 'OperationName', 'Result', 'InitiatedBy', 'TargetResources'],
};

function listingLink(title, category, params) {
  const p = common(Object.assign({}, params, { limit: 100 }));
  return { title, category, params: p, url: url(`logs/${category}`, p) };
}

async function openListing(title, category, params) {
  const aside = document.getElementById('listing');
  aside.hidden = false;
  document.getElementById('listing-title').textContent = title;
  document.getElementById('listing-url').textContent = url(`logs/${category}`, params);
  const body = document.getElementById('listing-body');
  const count = document.getElementById('listing-count');
  body.replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
  count.textContent = '';
  aside.dataset.state = 'loading';
  try {
    const a = await get(`logs/${category}`, params);
    const cols = (LISTING_COLUMNS[category] || a.columns.slice(0, 8)).filter((c) => a.columns.includes(c));
    count.textContent = a.next_cursor ? `The first ${number.format(a.rows.length)} records (more follow)` : `${number.format(a.rows.length)} records`;
    aside.dataset.rows = String(a.rows.length);
    aside.dataset.more = a.next_cursor ? 'yes' : 'no';
    body.replaceChildren(a.rows.length ? table(a.rows, cols) : el('p', { class: 'empty', text: 'No records.' }));
  } catch (e) {
    body.replaceChildren(el('p', { class: 'error', text: e.message }));
  }
  aside.dataset.state = 'done';
  document.getElementById('listing-close').focus();
}

// ---- tiles ----

/// A tile: a title, the endpoint it reads, and a render of the answer. `fetch` answers the data
/// (one or more calls); `render` turns it into elements.
function tile(spec) {
  const body = el('div', { class: 'tile-body' }, el('p', { class: 'muted', text: 'Loading…' }));
  const kql = el('pre', { class: 'kql', hidden: true });
  const explain = spec.explain !== false && spec.path
    ? el('button', { type: 'button', class: 'link', 'aria-expanded': 'false', onclick: async (e) => {
        const b = e.currentTarget;
        if (!kql.hidden) { kql.hidden = true; b.setAttribute('aria-expanded', 'false'); return; }
        kql.hidden = false;
        b.setAttribute('aria-expanded', 'true');
        kql.textContent = 'Loading…';
        try {
          const a = await get(spec.path, Object.assign({}, spec.params, { explain: 'true' }));
          kql.textContent = a.kql || 'This answer has no KQL: it comes from the embedded store alone.';
        } catch (err) {
          kql.textContent = err.message;
        }
      } }, 'KQL')
    : null;
  const source = spec.path ? el('code', { class: 'source', text: url(spec.path, spec.params) }) : null;
  const section = el('section', { class: `tile ${spec.wide ? 'wide' : ''}`, dataset: { tile: spec.id, state: 'loading' }, 'aria-labelledby': `t-${spec.id}` },
    el('header', {}, el('h3', { id: `t-${spec.id}`, text: spec.title }), explain),
    spec.note ? el('p', { class: 'muted note', text: spec.note }) : null,
    body, kql, source);
  (async () => {
    try {
      const data = spec.fetch ? await spec.fetch() : await get(spec.path, spec.params);
      const out = spec.render(data);
      body.replaceChildren(...(Array.isArray(out) ? out : [out]).filter(Boolean));
      section.dataset.state = 'done';
    } catch (e) {
      const msg = e.status === 404
        ? `This endpoint is missing on this server (${e.message}).`
        : e.message;
      body.replaceChildren(el('p', { class: 'error', role: 'alert', text: msg }));
      section.dataset.state = 'error';
    }
  })();
  return section;
}

const empty = (what) => el('p', { class: 'empty', text: `No ${what} in this range.` });

function sum(rows, key) {
  return rows.reduce((n, r) => n + (r[key] || 0), 0);
}

// ---- the workbooks ----

function breakdown(by, extra) {
  return { path: 'signins/breakdown', params: common(Object.assign({ by, limit: 1000 }, signInFilters(), extra)) };
}

function signInListing(title, params) {
  return listingLink(title, 'SignInLogs', Object.assign({}, signInFilters(), params));
}

function barsTile(id, title, by, opts) {
  const where = (opts && opts.where) || {};
  const q = breakdown(by, where);
  return tile(Object.assign({
    id, title, path: q.path, params: q.params,
    render: (a) => {
      let rows = a.rows;
      if (opts && opts.filter) rows = rows.filter(opts.filter);
      if (!rows.length) return empty('sign-ins');
      const shown = rows.slice(0, (opts && opts.top) || 10);
      return [bars(shown, 'value', 'sign_ins', {
        extra: (r) => `${percent.format(r.success / r.sign_ins)} success · ${number.format(r.users)} users`,
        listing: (r) => (r.value === '' ? null : signInListing(`${title}: ${r.value}`, Object.assign({}, where, { [by]: r.value }))),
      }), rows.length > shown.length ? el('p', { class: 'muted', text: `and ${number.format(rows.length - shown.length)} more` }) : null];
    },
  }, opts));
}

function statusTiles(id, title, by, labels, where) {
  const q = breakdown(by, where);
  return tile({
    id, title, path: q.path, params: q.params, wide: true,
    render: (a) => {
      const total = sum(a.rows, 'sign_ins');
      const items = [{ id: 'total', label: 'Sign-ins', value: total, listing: signInListing(`${title}: all`, Object.assign({}, where)) }];
      for (const [value, label, cls] of labels) {
        const row = a.rows.find((r) => r.value === value);
        items.push({ id: value, label, class: cls, value: row ? row.sign_ins : 0, note: total ? percent.format((row ? row.sign_ins : 0) / total) : '', listing: signInListing(`${title}: ${label}`, Object.assign({}, where, { [by]: value })) });
      }
      return stats(items);
    },
  });
}

function trendTile() {
  const by = state.range === '24h' ? 'hour' : 'day';
  const q = breakdown(by);
  return tile({
    id: 'trend', title: `Sign-ins per ${by}`, path: q.path, params: q.params, wide: true,
    render: (a) => a.rows.length
      ? lines(a.rows.map((r) => (by === 'day' ? r.value.slice(5) : r.value.slice(11) + 'h')), [
          { name: 'Success', class: 'ok', values: a.rows.map((r) => r.success) },
          { name: 'Pending user action', class: 'warn', values: a.rows.map((r) => r.interrupted) },
          { name: 'Failure', class: 'bad', values: a.rows.map((r) => r.failure) },
        ], { label: 'sign-ins over time' })
      : empty('sign-ins'),
  });
}

function codesTile() {
  const q = breakdown('code');
  return tile({
    id: 'codes', title: 'Top errors and interrupts', path: q.path, params: q.params, wide: true,
    note: 'Each result code with its meaning; interrupts are the workbooks\' "pending user action".',
    render: (a) => {
      const rows = a.rows.filter((r) => r.value !== '0').slice(0, 15);
      if (!rows.length) return empty('errors or interrupts');
      return table(rows, [
        { title: 'Code', key: 'value' },
        { title: 'Meaning', key: 'meaning' },
        { title: 'Status', value: (r) => (r.interrupted ? 'pending user action' : 'failure') },
        { title: 'Sign-ins', key: 'sign_ins', listing: (r) => signInListing(`Result ${r.value}`, { result: r.value }) },
        { title: 'Users', key: 'users' },
      ]);
    },
  });
}

function listTile(id, title, path, params, columns, opts) {
  return tile(Object.assign({
    id, title, path, params,
    render: (a) => (a.rows.length ? table(a.rows, columns, { more: a.next_cursor ? 'More rows follow: ask the endpoint with a larger limit or its cursor.' : '' }) : empty((opts && opts.what) || 'rows')),
  }, opts));
}

function auditTile(id, title, operation) {
  const params = common({ operation, limit: 25 });
  return listTile(id, title, 'logs/AuditLogs', params, [
    { title: 'Time', key: 'TimeGenerated' },
    { title: 'Initiated by', value: (r) => initiator(r.InitiatedBy) },
    { title: 'Target', value: (r) => (Array.isArray(r.TargetResources) ? r.TargetResources.map((t) => t.displayName || t.userPrincipalName || t.id).join(', ') : '') },
    { title: 'Result', key: 'Result' },
  ], { what: `"${operation}" events` });
}

function initiator(i) {
  if (!i) return '';
  if (i.user && (i.user.userPrincipalName || i.user.displayName)) return i.user.userPrincipalName || i.user.displayName;
  if (i.app && (i.app.displayName || i.app.servicePrincipalName)) return i.app.displayName || i.app.servicePrincipalName;
  return '';
}

function missing(title, text) {
  return el('section', { class: 'tile wide', dataset: { tile: 'missing', state: 'done' } }, el('header', {}, el('h3', { text: title })), el('p', { class: 'notice', text }));
}

const WORKBOOKS = [
  { id: 'signins', title: 'Sign-ins', intro: 'Interactive user sign-ins: success, pending user action (interrupts) and failure, as Microsoft\'s Sign-ins workbook counts result codes; by location, device and app.',
    tiles: () => [
      statusTiles('status', 'Status', 'status', [['success', 'Success', 'ok'], ['interrupted', 'Pending user action', 'warn'], ['failure', 'Failure', 'bad']]),
      trendTile(),
      barsTile('country', 'By location (country or region)', 'country'),
      barsTile('city', 'By city', 'city'),
      barsTile('os', 'By operating system', 'os'),
      barsTile('browser', 'By browser', 'browser'),
      barsTile('app', 'By app', 'app'),
      codesTile(),
    ] },
  { id: 'ca', title: 'Conditional Access', intro: 'Sign-ins by Conditional Access status and by what the policies look at: device state, platform, client app and sign-in risk.',
    tiles: () => [
      statusTiles('ca-status', 'Conditional Access status', 'ca_status', [['success', 'Success', 'ok'], ['failure', 'Failure', 'bad'], ['notApplied', 'Not applied', 'warn']]),
      barsTile('device-state', 'By device state', 'device_state'),
      barsTile('platform', 'By device platform', 'os'),
      barsTile('client-app', 'By client app', 'client_app'),
      barsTile('risk', 'By sign-in risk', 'risk'),
      tile({ id: 'policies', title: 'Per policy', path: 'signins/ca-policies', params: common(Object.assign({ limit: 1000 }, signInFilters())), wide: true,
        note: 'Each policy\'s result in each sign-in: success, failure, user action required, not applied (report-only results counted with them, and on their own).',
        render: (a) => (a.rows.length ? table(a.rows, [
          { title: 'Policy', key: 'policy' },
          { title: 'Success', key: 'success' },
          { title: 'Failure', key: 'failure' },
          { title: 'User action required', key: 'user_action' },
          { title: 'Not applied', key: 'not_applied' },
          { title: 'Report-only', key: 'report_only' },
          { title: 'Users', key: 'users' },
        ]) : el('p', { class: 'empty', text: 'No sign-in names a Conditional Access policy in this range.' })) }),
    ] },
  { id: 'legacy', title: 'Legacy authentication', intro: 'Sign-ins over clients that use legacy authentication (every client app but the browser and modern apps): they cannot do MFA.',
    tiles: () => [
      barsTile('legacy-clients', 'Legacy clients', 'client_app', { filter: (r) => !MODERN_CLIENTS.includes(r.value) && r.value !== '' }),
      barsTile('all-clients', 'Every client app', 'client_app'),
    ] },
  { id: 'prompts', title: 'Authentication prompts', intro: 'Authentication methods used in sign-ins (each method of a sign-in\'s authentication details), with their successes and failures.',
    tiles: () => [
      tile({ id: 'methods', title: 'Methods used', path: 'insights/auth-methods/usage', params: common(), render: (a) => (a.rows.length ? bars(a.rows, 'method', 'uses', { extra: (r) => `${number.format(r.failed)} failed` }) : empty('authentication methods')) }),
      missing('Prompts per policy and per user', 'Prompts per authentication requirement policy and the average prompts per user have no endpoint yet.'),
    ] },
  { id: 'mfa', title: 'MFA gaps', intro: 'Successful sign-ins that met single-factor rather than multifactor authentication: per day, and where they happen (app, user, operating system).',
    tiles: () => [
      tile({ id: 'requirements', title: 'Single-factor and multifactor sign-in flows', path: 'insights/auth-methods/requirements', params: common(), wide: true,
        note: 'As the Auth Methods Activity workbook counts them: the last successful sign-in of each correlation id (one flow). The tiles below count every successful sign-in.',
        render: (a) => {
          if (!sum(a.rows, 'sign_ins')) return empty('sign-ins');
          return [stats([
            { id: 'mfa', label: 'Protected by MFA', class: 'ok', value: sum(a.rows, 'multifactor') },
            { id: 'single', label: 'Single factor', class: 'bad', value: sum(a.rows, 'single_factor') },
          ]), lines(a.rows.map((r) => r.day.slice(5)), [
            { name: 'Multifactor', class: 'ok', values: a.rows.map((r) => r.multifactor) },
            { name: 'Single factor', class: 'bad', values: a.rows.map((r) => r.single_factor) },
          ], { label: 'single-factor and multifactor sign-ins per day' })];
        } }),
      statusTiles('requirement', 'Successful sign-ins by authentication requirement', 'auth_requirement', [['multiFactorAuthentication', 'Multifactor', 'ok'], ['singleFactorAuthentication', 'Single factor', 'bad']], { status: 'success' }),
      barsTile('single-factor-apps', 'Single-factor successful sign-ins per app', 'app', { where: { status: 'success', auth_requirement: 'singleFactorAuthentication' } }),
      barsTile('single-factor-users', 'Single-factor successful sign-ins per user', 'user', { where: { status: 'success', auth_requirement: 'singleFactorAuthentication' } }),
      barsTile('single-factor-os', 'Single-factor successful sign-ins per operating system', 'os', { where: { status: 'success', auth_requirement: 'singleFactorAuthentication' } }),
    ] },
  { id: 'sensitive', title: 'Sensitive operations', intro: 'Credentials added to apps, consents and permission grants, role and group changes, federation and domain changes, from the audit log.',
    tiles: () => [
      listTile('credentials', 'App credentials', 'insights/app-credentials', common({ limit: 25 }), ['display_name', 'key_type', 'created', 'expires', 'last_used', 'expired'], { what: 'credentials' }),
      listTile('admin-access', 'Admin access granted', 'audit/admin-access', common({ limit: 25 }), ['time', 'user', 'granted', 'through', 'initiated_by'], { what: 'grants' }),
      auditTile('consent', 'Consent to application', 'Consent to application'),
      auditTile('grants', 'Delegated permission grants', 'Add delegated permission grant'),
      auditTile('app-roles', 'App role assignments to service principals', 'Add app role assignment to service principal'),
      auditTile('sp-credentials', 'Service principal credentials added', 'Add service principal credentials'),
      auditTile('federation', 'Federation settings changed', 'Set federation settings on domain'),
      auditTile('domains', 'Domain authentication changed', 'Set domain authentication'),
    ] },
  { id: 'apphealth', title: 'App sign-in health', intro: 'Hourly sign-ins of the last 24 hours of the range against the same hours 7 days earlier (Microsoft\'s week-over-week baseline); filter by app to see one.',
    tiles: () => {
      const to = new Date(state.to);
      const from = new Date(to.getTime() - 24 * 3600000);
      const week = 7 * 24 * 3600000;
      const now = { path: 'signins/breakdown', params: Object.assign({ from: from.toISOString(), to: to.toISOString(), by: 'hour', limit: 1000 }, state.tenant ? { tenant: state.tenant } : {}, signInFilters()) };
      const before = Object.assign({}, now.params, { from: new Date(from.getTime() - week).toISOString(), to: new Date(to.getTime() - week).toISOString() });
      const fetch2 = async () => {
        const [a, b] = await Promise.all([get(now.path, now.params), get(now.path, before)]);
        // Hour by hour, aligned on the hour of the day.
        const hours = [];
        for (let t = new Date(from); t < to; t = new Date(t.getTime() + 3600000)) hours.push(t.toISOString().slice(0, 13).replace('T', ' '));
        const at = (rows, h) => rows.find((r) => r.value === h);
        return hours.map((h) => {
          const earlier = new Date(Date.parse(h.replace(' ', 'T') + ':00:00Z') - week).toISOString().slice(0, 13).replace('T', ' ');
          return { hour: h, now: at(a.rows, h), before: at(b.rows, earlier) };
        });
      };
      const rate = (r) => (r && r.success + r.failure ? r.failure / (r.success + r.failure) : null);
      return [
        tile({ id: 'hourly-success', title: 'Successful sign-ins per hour', path: now.path, params: now.params, wide: true, fetch: fetch2,
          render: (h) => lines(h.map((x) => x.hour.slice(11) + 'h'), [
            { name: 'Last 24 hours', class: 'ok', values: h.map((x) => (x.now ? x.now.success : 0)) },
            { name: '7 days earlier', class: 'base', values: h.map((x) => (x.before ? x.before.success : 0)) },
          ], { label: 'successful sign-ins per hour' }) }),
        tile({ id: 'hourly-failure', title: 'Failure rate per hour', path: now.path, params: now.params, wide: true, fetch: fetch2,
          render: (h) => lines(h.map((x) => x.hour.slice(11) + 'h'), [
            { name: 'Last 24 hours', class: 'bad', values: h.map((x) => rate(x.now)) },
            { name: '7 days earlier', class: 'base', values: h.map((x) => rate(x.before)) },
          ], { label: 'failure rate per hour', format: (v) => percent.format(v) }) }),
      ];
    } },
  { id: 'provisioning', title: 'Provisioning', intro: 'Provisioning events between source and target systems, newest first.',
    tiles: () => [
      listTile('failed', 'Failed provisioning events', 'provisioning/events', common({ status: 'failure', limit: 50 }), ['time', 'action', 'object_type', 'name', 'source', 'target'], { what: 'failed events', wide: true }),
      listTile('events', 'Recent provisioning events', 'provisioning/events', common({ limit: 50 }), ['time', 'action', 'object_type', 'name', 'source', 'target', 'status'], { what: 'events', wide: true }),
    ] },
  { id: 'risk', title: 'Risk', intro: 'Identity Protection\'s and entra-monitor\'s risk detections, and the users at risk.',
    tiles: () => [
      listTile('detections', 'Risk detections', 'risk/detections', common({ limit: 50 }), ['last_seen', 'name', 'risk_level', 'user', 'ip', 'source', 'evidence'], { what: 'detections', wide: true }),
      tile({ id: 'risky-users', title: 'Risky users', path: 'risk/users', params: state.tenant ? { tenant: state.tenant } : {}, wide: true,
        render: (a) => (a.users && a.users.length ? table(a.users.slice(0, 100), ['user', 'level', 'state', 'updated']) : el('p', { class: 'empty', text: 'No risky users.' })) }),
    ] },
  { id: 'usage', title: 'Usage & insights', intro: 'Application sign-in activity, authentication method registration, inactive users and service principals.',
    tiles: () => [
      tile({ id: 'app-sign-ins', title: 'Application sign-in activity', path: 'insights/app-sign-ins', params: common(), render: (a) => (a.rows.length ? bars(a.rows.slice(0, 10), 'app', 'sign_ins', { extra: (r) => `${percent.format(r.success_rate)} success · ${number.format(r.users)} users` }) : empty('app sign-ins')) }),
      tile({ id: 'registration', title: 'Authentication methods registration', path: 'insights/auth-methods/registration', params: state.tenant ? { tenant: state.tenant } : {}, render: (a) => (a.rows.length ? bars(a.rows, 'feature', 'users') : el('p', { class: 'empty', text: 'No registration details (collected with the inventory).' })) }),
      listTile('inactive', 'Inactive users', 'insights/inactive-users', { limit: 25, ...(state.tenant ? { tenant: state.tenant } : {}) }, ['user_principal_name', 'user_type', 'last_sign_in', 'days_inactive'], { what: 'inactive users' }),
      listTile('sp-sign-ins', 'Service principal sign-in activity', 'insights/service-principal-sign-ins', common({ limit: 25 }), ['display_name', 'app_id', 'last_sign_in'], { what: 'service principal sign-ins' }),
    ] },
  { id: 'recommendations', title: 'Recommendations', intro: 'What to improve in the tenant, with the actions to take. Acting needs a credential (the local admin key on a local serve).',
    tiles: () => [
      tile({ id: 'recommendations', title: 'Recommendations', path: 'recommendations', params: state.tenant ? { tenant: state.tenant } : {}, wide: true, explain: false,
        render: (a) => (a.value && a.value.length ? table(a.value, [
          { title: 'Recommendation', key: 'displayName' },
          { title: 'Priority', key: 'priority' },
          { title: 'Status', key: 'status' },
          { title: 'Impacted', value: (r) => (r.impactedResources ? r.impactedResources.length : r.impactedResourcesCount) },
          { title: 'Actions', action: (r) => el('span', { class: 'row' }, ['complete', 'dismiss', 'reactivate'].map((act) => el('button', { type: 'button', onclick: (e) => actOn(e.currentTarget, r.id, act) }, act))) },
        ]) : el('p', { class: 'empty', text: 'No recommendations yet (they are evaluated daily, from the inventory).' })) }),
    ] },
  { id: 'health', title: 'Health', intro: 'Tenant health: the scenario signals every 15 minutes and the alerts raised on them.',
    tiles: () => [
      tile({ id: 'alerts', title: 'Alerts', path: 'health/alerts', params: common(), wide: true,
        render: (a) => (a.rows.length ? table(a.rows.slice(0, 50), ['createdDateTime', 'source', 'scenario', 'state', 'app', 'policy', 'explanation']) : el('p', { class: 'empty', text: 'No alerts in this range.' })) }),
      ...['mfaSignInFailure', 'conditionalAccessBlockedUsers', 'managedDeviceSignInFailure', 'compliantDeviceSignInFailure'].map((scenario) => {
        const to = new Date(state.to);
        const params = Object.assign({ scenario, from: new Date(to.getTime() - 24 * 3600000).toISOString(), to: state.to, limit: 1000 }, state.tenant ? { tenant: state.tenant } : {});
        return tile({ id: `signal-${scenario}`, title: `${scenario} (last 24 hours)`, path: 'health/signals', params,
          render: (a) => (a.rows.length ? lines(a.rows.map((r) => r.intervalStartDateTime.slice(11, 16)), [{ name: scenario, class: 'bad', values: a.rows.map((r) => r.value) }], { label: scenario }) : empty('intervals')) });
      }),
    ] },
  { id: 'pipeline', title: 'Pipeline', intro: 'Collection per tenant and category, the timer functions\' last runs, and where the records go.',
    tiles: () => [
      tile({ id: 'collection', title: 'Collection', path: 'health', params: {}, wide: true, explain: false,
        render: (h) => [
          h.reasons && h.reasons.length ? el('ul', { class: 'reasons' }, h.reasons.map((r) => el('li', { class: 'error', text: typeof r === 'string' ? r : JSON.stringify(r) }))) : el('p', { class: 'ok-text', text: `Status: ${h.status}` }),
          h.collection ? table(h.collection, ['tenant', 'category', 'watermark', 'lag_seconds', 'stored_records', 'last_run_at', 'last_error', 'paused_until']) : el('p', { class: 'notice', text: h.detail || 'Authenticate to see collection.' }),
        ] }),
      tile({ id: 'runs', title: 'Timer functions', path: 'health', params: {}, wide: true, explain: false,
        render: (h) => table((h.functions || []).filter((f) => f.last_run || f.schedule), [
          { title: 'Function', key: 'name' },
          { title: 'Schedule', key: 'schedule' },
          { title: 'Last run', value: (f) => (f.last_run ? f.last_run.finished_at : '') },
          { title: 'Outcome', value: (f) => (f.last_run ? f.last_run.outcome : '') },
          { title: 'Detail', value: (f) => (f.last_run ? f.last_run.detail : '') },
        ]) }),
      tile({ id: 'destinations', title: 'Destinations', path: 'health', params: {}, wide: true, explain: false,
        render: (h) => (h.destinations && h.destinations.routes ? table(h.destinations.routes, [
          { title: 'Destination', key: 'destination' },
          { title: 'Categories', value: (r) => (r.categories || []).join(', ') },
          { title: 'Guarantee', key: 'guarantee' },
          { title: 'Last error', value: (r) => r.last_error || '' },
        ]) : el('p', { class: 'notice', text: 'Authenticate to see the destinations.' })) }),
    ] },
];

async function actOn(button, id, action) {
  button.disabled = true;
  try {
    await call('POST', `recommendations/${encodeURIComponent(id)}/${action}`, state.tenant ? { tenant: state.tenant } : {}, { reason: 'from the workbooks page' });
    render();
  } catch (e) {
    button.disabled = false;
    button.title = e.message;
    button.textContent = `${action}: ${e.status === 401 ? 'needs a credential' : 'failed'}`;
  }
}

// ---- the page ----

function renderTabs() {
  const nav = document.getElementById('tabs');
  nav.replaceChildren(...WORKBOOKS.map((w) => el('button', {
    type: 'button', role: 'tab', id: `tab-${w.id}`, 'aria-controls': 'main',
    'aria-selected': String(w.id === state.tab), tabindex: w.id === state.tab ? '0' : '-1',
    onclick: () => select(w.id), text: w.title,
  })));
}

function select(id) {
  if (!WORKBOOKS.some((w) => w.id === id)) id = 'signins';
  state.tab = id;
  writeHash();
  renderTabs();
  render();
}

function render() {
  fixRange();
  const w = WORKBOOKS.find((x) => x.id === state.tab);
  const main = document.getElementById('main');
  main.setAttribute('aria-labelledby', `tab-${w.id}`);
  main.dataset.workbook = w.id;
  main.dataset.from = state.from;
  main.dataset.to = state.to;
  main.replaceChildren(el('h2', { text: w.title }), el('p', { class: 'intro muted', text: w.intro }), el('div', { class: 'tiles' }, w.tiles()));
}

function writeHash() {
  const q = new URLSearchParams({ range: state.range });
  for (const k of ['tenant', 'app', 'user']) if (state[k]) q.set(k, state[k]);
  history.replaceState(null, '', `#${state.tab}?${q}`);
}

function readHash() {
  const [tab, query] = location.hash.slice(1).split('?');
  const q = new URLSearchParams(query || '');
  // An address naming no workbook (a typo, an old bookmark) opens on Sign-ins.
  state.tab = WORKBOOKS.some((w) => w.id === tab) ? tab : 'signins';
  state.range = ['24h', '7d', '30d'].includes(q.get('range')) ? q.get('range') : '7d';
  for (const k of ['tenant', 'app', 'user']) state[k] = (q.get(k) || '').slice(0, 256);
  document.getElementById('range').value = state.range;
  document.getElementById('app').value = state.app;
  document.getElementById('user').value = state.user;
}

/// Asks `/api/health` (answered to anyone) what this caller may see: without a credential
/// where one is needed, the page asks for it before calling anything else (so no request is
/// refused); otherwise it lists the tenants and renders.
async function start() {
  let h = null;
  try {
    h = await get('health', {});
  } catch (_) {
    /* the tiles say what is wrong */
  }
  const stored = sessionStorage.getItem(KEY_API) || sessionStorage.getItem(KEY_FUNCTION);
  if (h && !h.collection && !stored) {
    document.getElementById('main').replaceChildren(el('p', { class: 'notice', text: 'This server needs a credential to read: enter it with the Key button.' }));
    askForKey('This server needs a credential to read');
    return;
  }
  const tenants = [...new Set(((h && h.collection) || []).map((c) => c.tenant))];
  const sel = document.getElementById('tenant');
  sel.replaceChildren(el('option', { value: '', text: 'default' }), ...tenants.map((t) => el('option', { value: t, text: t })));
  sel.value = state.tenant;
  document.getElementById('tenant-label').hidden = tenants.length < 2;
  render();
}

function theme(dark) {
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  const b = document.getElementById('theme-button');
  b.setAttribute('aria-pressed', String(dark));
  b.textContent = dark ? 'Light' : 'Dark';
  try { localStorage.setItem('entra-monitor.theme', dark ? 'dark' : 'light'); } catch (_) { /* private mode */ }
}

function init() {
  readHash();
  let saved = null;
  try { saved = localStorage.getItem('entra-monitor.theme'); } catch (_) { /* private mode */ }
  theme(saved ? saved === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches);
  document.getElementById('theme-button').addEventListener('click', () => theme(document.documentElement.dataset.theme !== 'dark'));
  document.getElementById('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    state.range = document.getElementById('range').value;
    state.tenant = document.getElementById('tenant').value;
    state.app = document.getElementById('app').value.trim().slice(0, 256);
    state.user = document.getElementById('user').value.trim().slice(0, 256);
    writeHash();
    render();
  });
  document.getElementById('tabs').addEventListener('keydown', (e) => {
    const i = WORKBOOKS.findIndex((w) => w.id === state.tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: WORKBOOKS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    select(WORKBOOKS[(next + WORKBOOKS.length) % WORKBOOKS.length].id);
    document.getElementById(`tab-${state.tab}`).focus();
  });
  document.getElementById('listing-close').addEventListener('click', () => { document.getElementById('listing').hidden = true; });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') document.getElementById('listing').hidden = true; });
  document.getElementById('key-button').addEventListener('click', () => askForKey('Enter the credential this server expects'));
  document.getElementById('key-save').addEventListener('click', () => {
    const k = document.getElementById('api-key').value.trim();
    const f = document.getElementById('function-key').value.trim();
    if (k) sessionStorage.setItem(KEY_API, k); else sessionStorage.removeItem(KEY_API);
    if (f) sessionStorage.setItem(KEY_FUNCTION, f); else sessionStorage.removeItem(KEY_FUNCTION);
    document.getElementById('api-key').value = '';
    document.getElementById('function-key').value = '';
    start();
  });
  document.getElementById('key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_API);
    sessionStorage.removeItem(KEY_FUNCTION);
    document.getElementById('key-dialog').close();
    render();
  });
  document.getElementById('key-cancel').addEventListener('click', () => document.getElementById('key-dialog').close());
  window.addEventListener('hashchange', () => { readHash(); renderTabs(); render(); });
  renderTabs();
  start();
}

document.addEventListener('DOMContentLoaded', init);
