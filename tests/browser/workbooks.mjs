// The workbooks page in a real browser (Debian's chromium, driven by playwright-core): run by
// tests/workbooks.rs against a `serve` it started. Prints what it checked; exits non-zero
// with the reason at the first check that fails.
//
// Environment: BASE (http://127.0.0.1:PORT), MODE (full | first-run | bench), API_KEY (the
// credential the serve expects, if any), SHOTS (where screenshots go), CHROMIUM (the browser,
// /usr/bin/chromium by default), TOOLS (the folder holding node_modules/playwright-core).
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';

const env = process.env;
const require = createRequire(`${env.TOOLS}/`);
const { chromium } = require('playwright-core');
const BASE = env.BASE;
const MODE = env.MODE || 'full';
const KEY = env.API_KEY || '';
const SHOTS = env.SHOTS;
mkdirSync(SHOTS, { recursive: true });
const origin = new URL(BASE).origin;

const problems = [];
function log(...a) { console.log(...a); }

/// The JSON endpoint, asked directly (not through the page).
async function api(path, params) {
  const q = new URLSearchParams(params);
  const r = await fetch(`${BASE}/api/${path}?${q}`, { headers: KEY ? { 'x-api-key': KEY } : {} });
  const body = await r.json();
  assert.equal(r.status, 200, `${path}?${q}: ${JSON.stringify(body)}`);
  return body;
}

const digits = (t) => Number(String(t).replace(/[^0-9]/g, ''));

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme: 'light' });
const page = await context.newPage();
page.on('console', (m) => {
  if (m.type() !== 'error') return;
  const at = m.location().url || '';
  // /api/health answers 503 when collection fails (as this serve's does, by design): the
  // page reads its body and shows why; the browser logs the status all the same.
  if (/503/.test(m.text()) && new URL(at, BASE).pathname === '/api/health') return;
  problems.push(`console error: ${m.text()} (${at})`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
const requests = [];
page.on('request', (r) => {
  requests.push(r);
  const u = new URL(r.url());
  if (u.protocol !== 'data:' && u.origin !== origin) problems.push(`request to another origin: ${r.url()}`);
  if (KEY && r.url().includes(KEY)) problems.push(`the credential is in a URL: ${r.url()}`);
});

/// Waits until every tile of the shown workbook has loaded; answers their states.
async function settled() {
  await page.waitForFunction(() => {
    const tiles = [...document.querySelectorAll('#main [data-tile]')];
    return tiles.length > 0 && tiles.every((t) => t.dataset.state !== 'loading');
  }, null, { timeout: 30000 });
  return page.$$eval('#main [data-tile]', (ts) => ts.map((t) => ({ id: t.dataset.tile, state: t.dataset.state, text: t.innerText.slice(0, 300) })));
}

async function range() {
  return page.$eval('#main', (m) => ({ from: m.dataset.from, to: m.dataset.to }));
}

async function stat(tile, id) {
  return digits(await page.$eval(`[data-tile="${tile}"] [data-stat="${id}"] dd`, (e) => e.textContent));
}

async function bars(tile) {
  return page.$$eval(`[data-tile="${tile}"] .bar-row`, (rows) => rows.map((r) => ({
    label: r.querySelector('.bar-label').textContent,
    value: r.querySelector('.bar-value').textContent,
    count: r.dataset.count,
  })));
}

async function open(tab) {
  await page.click(`#tab-${tab}`);
  await page.waitForFunction((t) => document.querySelector('#main').dataset.workbook === t, tab);
  return settled();
}

const t0 = Date.now();
await page.goto(`${BASE}/`);
assert.equal(new URL(page.url()).pathname, '/api/workbooks', '/ leads to the workbooks page');

if (MODE === 'bench') {
  // The first render of the Sign-ins workbook, RUNS times: from navigation to every tile drawn
  // (the page, its script and style, and every tile's answer).
  const runs = [];
  let states = [];
  for (let i = 0; i < Number(env.RUNS || 5); i++) {
    await page.goto('about:blank');
    const started = Date.now();
    await page.goto(`${BASE}/api/workbooks#signins?range=7d`);
    states = await settled();
    runs.push(Date.now() - started);
    assert.ok(states.every((s) => s.state === 'done'), JSON.stringify(states));
  }
  const bytes = await page.evaluate(() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
    .filter((e) => /\/api\/workbooks/.test(e.name)).reduce((n, e) => n + e.encodedBodySize, 0));
  const total = await stat('status', 'total');
  console.log(JSON.stringify({ runs_ms: runs, page_bytes: bytes, tiles: states.length, sign_ins: total }));
  await browser.close();
  process.exit(0);
}

let keyed = 0;
if (KEY) {
  // The server wants a credential: the page asks for it, keeps it for the tab, sends it in a
  // header.
  await page.waitForSelector('#key-dialog[open]', { timeout: 10000 });
  keyed = requests.length;
  await page.fill('#api-key', KEY);
  await page.click('#key-save');
  await page.waitForFunction(() => !document.querySelector('#key-dialog').open);
  const kept = await page.evaluate(() => sessionStorage.getItem('entra-monitor.api-key'));
  assert.equal(kept, KEY, 'the key is kept in session storage');
  assert.ok(!page.url().includes(KEY), 'the key is not in the address');
  log('credential: asked for, kept in session storage, sent as x-api-key');
} else {
  const asked = await page.$('#key-dialog[open]');
  assert.equal(asked, null, 'no credential is asked for on a local serve without one');
}

const first = await settled();
assert.ok(first.every((t) => t.state === 'done'), `Sign-ins tiles: ${JSON.stringify(first)}`);
let r = await range();
const status = await api('signins/breakdown', { by: 'status', from: r.from, to: r.to, limit: 1000 });
const byStatus = Object.fromEntries(status.rows.map((x) => [x.value, x.sign_ins]));
const total = status.rows.reduce((n, x) => n + x.sign_ins, 0);
assert.equal(await stat('status', 'total'), total, 'total sign-ins as the JSON gives them');
for (const s of ['success', 'interrupted', 'failure']) {
  assert.equal(await stat('status', s), byStatus[s] || 0, `${s} as the JSON gives it`);
}
log(`sign-ins: ${total} (${JSON.stringify(byStatus)}) equal the JSON's`);
await page.screenshot({ path: `${SHOTS}/${MODE === 'first-run' ? 'first-run' : 'signins'}.png`, fullPage: true });
await page.screenshot({ path: `${SHOTS}/${MODE === 'first-run' ? 'first-run' : 'signins'}-top.png` });

if (MODE === 'first-run') {
  assert.ok(total > 0, 'the first collection brought sign-ins');
} else {
  // Every workbook renders its tiles, none in error.
  const tabs = await page.$$eval('[role="tab"]', (ts) => ts.map((t) => t.id.slice(4)));
  assert.ok(tabs.length >= 13, `the workbooks: ${tabs}`);
  for (const tab of tabs) {
    const states = await open(tab);
    const bad = states.filter((s) => s.state !== 'done');
    assert.deepEqual(bad, [], `${tab}: tiles in error`);
    await page.screenshot({ path: `${SHOTS}/${tab}.png`, fullPage: true });
    log(`${tab}: ${states.length} tiles`);
  }

  // The numbers are the JSON endpoints' numbers.
  await open('signins');
  r = await range();
  const countries = await api('signins/breakdown', { by: 'country', from: r.from, to: r.to, limit: 1000 });
  const shown = await bars('country');
  assert.ok(shown.length > 1, 'countries are drawn');
  shown.forEach((b, i) => {
    assert.equal(b.label, countries.rows[i].value || '(none)');
    assert.equal(digits(b.value), countries.rows[i].sign_ins, `country ${b.label}`);
  });
  const codes = await api('signins/breakdown', { by: 'code', from: r.from, to: r.to, limit: 1000 });
  const firstCode = codes.rows.find((c) => c.value !== '0');
  const codeRow = await page.$eval('[data-tile="codes"] tbody tr', (tr) => [...tr.cells].map((c) => c.textContent));
  assert.deepEqual([codeRow[0], codeRow[1], digits(codeRow[3])], [firstCode.value, firstCode.meaning, firstCode.sign_ins]);
  log(`by country (${shown.length} bars) and top error ${firstCode.value} equal the JSON's`);

  // A hostile app name from the log is text, never markup.
  const apps = await api('signins/breakdown', { by: 'app', from: r.from, to: r.to, limit: 1000 });
  const hostile = apps.rows.find((a) => a.value.includes('<img'));
  assert.ok(hostile, 'the store holds the hostile app name');
  const appLabels = (await bars('app')).map((b) => b.label);
  const pwned = await page.evaluate(() => window.__pwned);
  assert.equal(pwned, undefined, 'no script ran from a record');
  assert.equal(await page.$$eval('#main img', (i) => i.length), 0, 'no element made from a record');
  log(`hostile name shown as text: ${appLabels.includes(hostile.value) ? 'in the top apps' : 'not in the top ten'}`);

  // A filter changes the numbers, to the JSON's for that filter.
  const app = apps.rows.find((a) => !a.value.includes('<')).value;
  await page.fill('#app', app);
  await page.click('#filters button[type="submit"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#main [data-tile]')].every((t) => t.dataset.state !== 'loading'));
  await settled();
  r = await range();
  const filtered = await api('signins/breakdown', { by: 'status', app, from: r.from, to: r.to, limit: 1000 });
  const filteredTotal = filtered.rows.reduce((n, x) => n + x.sign_ins, 0);
  assert.equal(await stat('status', 'total'), filteredTotal, `total for app ${app}`);
  assert.ok(filteredTotal < total, 'the filter narrows the numbers');
  assert.ok(decodeURIComponent(page.url()).includes(`app=${app}`.replace(/ /g, '+')) || page.url().includes(encodeURIComponent(app)), 'the filter is in the address');
  log(`filter app=${app}: ${filteredTotal} sign-ins, as the JSON gives them`);

  // A tile's link opens the listing of exactly its records.
  const small = (await bars('country')).find((b) => Number(b.count) > 0 && Number(b.count) <= 100);
  assert.ok(small, 'a country with at most 100 sign-ins');
  await page.click(`[data-tile="country"] .bar-row[data-count="${small.count}"]`);
  await page.waitForSelector('#listing:not([hidden])[data-state="done"]');
  const listing = await page.$eval('#listing', (l) => ({ rows: l.dataset.rows, more: l.dataset.more, url: document.querySelector('#listing-url').textContent }));
  assert.equal(Number(listing.rows), Number(small.count), `listing of ${small.label}: ${listing.url}`);
  assert.equal(listing.more, 'no');
  assert.ok(listing.url.startsWith('/api/logs/SignInLogs?') && listing.url.includes('country=') && listing.url.includes('app='), listing.url);
  await page.screenshot({ path: `${SHOTS}/listing.png` });
  await page.keyboard.press('Escape');
  log(`listing of ${small.label}: ${listing.rows} records = the bar's count`);

  // A tile shows its KQL.
  await page.click('[data-tile="country"] header button');
  await page.waitForFunction(() => /SigninLogs[\s\S]*summarize/.test(document.querySelector('[data-tile="country"] .kql').textContent));
  log('KQL shown');

  // Other workbooks' numbers.
  await page.fill('#app', '');
  await page.click('#filters button[type="submit"]');
  await open('ca');
  r = await range();
  const ca = await api('signins/breakdown', { by: 'ca_status', from: r.from, to: r.to, limit: 1000 });
  for (const row of ca.rows.filter((x) => ['success', 'failure', 'notApplied'].includes(x.value))) {
    assert.equal(await stat('ca-status', row.value), row.sign_ins, `CA ${row.value}`);
  }
  const policies = await api('signins/ca-policies', { from: r.from, to: r.to, limit: 1000 });
  assert.ok(policies.rows.length >= 3, 'policies in the week');
  const policyRows = await page.$$eval('[data-tile="policies"] tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.equal(policyRows.length, policies.rows.length);
  policies.rows.forEach((p, i) => {
    assert.deepEqual(policyRows[i].map((c, j) => (j ? digits(c) : c)), [p.policy, p.success, p.failure, p.user_action, p.not_applied, p.report_only, p.users], `policy ${p.policy}`);
  });
  const usage = await api('insights/app-sign-ins', { from: r.from, to: r.to });
  await open('usage');
  const usageBars = await bars('app-sign-ins');
  assert.equal(usageBars[0].label, usage.rows[0].app);
  assert.equal(digits(usageBars[0].value), usage.rows[0].sign_ins);
  await open('mfa');
  const req = await api('insights/auth-methods/requirements', { from: r.from, to: r.to });
  assert.equal(await stat('requirements', 'mfa'), req.rows.reduce((n, x) => n + x.multifactor, 0));
  const single = await api('signins/breakdown', { by: 'app', status: 'success', auth_requirement: 'singleFactorAuthentication', from: r.from, to: r.to, limit: 1000 });
  const singleBars = await bars('single-factor-apps');
  assert.ok(singleBars.length > 0, 'single-factor sign-ins per app');
  assert.deepEqual(singleBars.map((b) => [b.label, digits(b.value)]), single.rows.slice(0, 10).map((x) => [x.value, x.sign_ins]));
  log(`Conditional Access (${policies.rows.length} policies), usage and MFA figures equal the JSON's`);

  // Keyboard: arrows move between workbooks.
  await page.focus('#tab-mfa');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.activeElement.id === 'tab-sensitive' && document.querySelector('#main').dataset.workbook === 'sensitive');
  log('keyboard: ArrowRight moves to the next workbook');

  // An address naming no workbook, with markup in its filters, opens on Sign-ins, the
  // filters shown as text.
  await page.goto(`${BASE}/api/workbooks#nothing?range=bogus&user=%3Cimg%20src%3Dx%20onerror%3D%22window.__pwned%3D1%22%3E`);
  await page.waitForFunction(() => document.querySelector('#main').dataset.workbook === 'signins');
  await settled();
  assert.equal(await page.$eval('#range', (e) => e.value), '7d');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  log('an unknown workbook in the address opens Sign-ins');
  await page.goto(`${BASE}/api/workbooks#signins?range=7d`);
  await page.waitForFunction(() => document.querySelector('#user').value === '');

  // Dark.
  await open('signins');
  await page.click('#theme-button');
  assert.equal(await page.$eval('html', (h) => h.dataset.theme), 'dark');
  await page.screenshot({ path: `${SHOTS}/signins-dark.png`, fullPage: true });
}

// Every call after the key was entered carries it.
const apiCalls = requests.slice(keyed).filter((q) => new URL(q.url()).pathname.startsWith('/api/') && !q.url().includes('/api/workbooks'));
assert.ok(apiCalls.length > 0);
if (KEY) {
  for (const q of apiCalls) assert.equal((await q.allHeaders())['x-api-key'], KEY, `x-api-key on ${q.url()}`);
}
assert.deepEqual(problems, [], 'no console error, no other origin, no credential in a URL');
log(`${requests.length} requests, all to ${origin}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await browser.close();
