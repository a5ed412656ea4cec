// The operator's console: polls the admin routes every two seconds with the token kept in
// this tab's sessionStorage, and draws its charts as inline SVG. Every value from the server is
// put in the page as text (textContent), never as markup.
'use strict';
(() => {
  const TOKEN = 'orders-console-token';
  const POLL_MS = 2000;
  const SVG = 'http://www.w3.org/2000/svg';
  // The statuses in the order an order goes through them.
  const ORDER = ['PLACED', 'VALIDATED', 'PAID', 'COMPLETED', 'SHIPPED', 'FAILED', 'CANCELLING',
    'CANCELLED', 'PARTIALLY_REFUNDED', 'REFUNDED'];
  const $ = (id) => document.getElementById(id);
  let timer = null;

  function el(tag, attrs = {}, ...children) {
    const node = tag.startsWith('svg:')
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  // A token arrives in the link's fragment (never sent to a server); keep it, drop it from the URL.
  function takeFragmentToken() {
    const m = location.hash.match(/token=([^&]+)/);
    if (m) {
      sessionStorage.setItem(TOKEN, decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
  }

  class SignedOut extends Error {}

  async function api(path, options = {}) {
    const headers = { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN), ...(options.headers || {}) };
    const res = await fetch(path, { ...options, headers, cache: 'no-store' });
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}));
      throw new SignedOut((body.error && body.error.message) || res.statusText);
    }
    return res;
  }

  async function json(path) {
    const res = await api(path);
    if (!res.ok) throw new Error(path + ': ' + res.status);
    return res.json();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN);
    clearInterval(timer);
    timer = null;
    $('console').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    $('sign-in-error').textContent = message || '';
    $('refreshed').textContent = 'not signed in';
  }

  function signIn() {
    $('sign-in').hidden = true;
    $('console').hidden = false;
    $('sign-out').hidden = false;
    refresh();
    timer = setInterval(refresh, POLL_MS);
  }

  const time = (rfc) => (rfc ? new Date(rfc).toLocaleTimeString() : '–');

  function orderLink(id) {
    if (!id) return '–';
    const a = el('a', { class: 'order', 'data-order': id }, id);
    a.addEventListener('click', () => openOrder(id));
    return a;
  }

  function renderCounts(data) {
    const body = $('counts').tBodies[0];
    const max = Math.max(1, ...Object.values(data.counts));
    const rank = (s) => (ORDER.indexOf(s) + 1 || ORDER.length + 1);
    const entries = Object.entries(data.counts).sort((a, b) => rank(a[0]) - rank(b[0]));
    body.replaceChildren(...entries.map(([status, n]) => {
      const bar = el('div', { class: 'bar' });
      bar.style.width = (100 * n / max) + '%';
      return el('tr', { 'data-status': status },
        el('td', { class: 'status-' + status }, status), el('td', { class: 'n' }, n), el('td', { class: 'bars' }, bar));
    }));
    $('counts-total').textContent = data.total;
  }

  const figure = (v, unit) => (v === null || v === undefined ? '–' : (unit ? v.toFixed(2) + ' ' + unit : v));

  // A line chart of `series` ([{name, values: [number|null]}]) over `labels`, each value a point.
  function chart(svg, labels, series, unit) {
    // As wide as the card shows it, so points and labels keep their shape.
    const W = Math.max(300, Math.round(svg.getBoundingClientRect().width) || 600);
    const H = 180, L = 44, R = 8, T = 18, B = 22;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
    const top = Math.max(unit ? 0.001 : 1, ...all);
    const x = (i) => L + (labels.length < 2 ? 0 : (i * (W - L - R)) / (labels.length - 1));
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const nodes = [
      el('svg:line', { class: 'axis', x1: L, y1: y(0), x2: W - R, y2: y(0) }),
      el('svg:line', { class: 'axis', x1: L, y1: T, x2: L, y2: y(0) }),
      el('svg:text', { x: 2, y: T + 4 }, unit ? top.toFixed(2) + unit : top),
      el('svg:text', { x: 2, y: y(0) }, '0'),
    ];
    if (labels.length) {
      nodes.push(el('svg:text', { x: L, y: H - 4 }, time(labels[0])));
      nodes.push(el('svg:text', { x: W - R - 60, y: H - 4 }, time(labels[labels.length - 1])));
    }
    series.forEach((s, k) => {
      let d = '';
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1) + ' ';
        pen = true;
        const dot = el('svg:circle', { class: 'point s' + k, cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5 });
        dot.append(el('svg:title', {}, s.name + ' ' + (unit ? v.toFixed(3) + unit : v) + ' at ' + time(labels[i])));
        nodes.push(dot);
      });
      if (d) nodes.push(el('svg:path', { class: 's' + k, d }));
      nodes.push(el('svg:text', { class: 's' + k, x: L + 10 + k * 110, y: 11 }, '● ' + s.name));
    });
    svg.replaceChildren(...nodes);
  }

  function renderSeries(data) {
    const samples = data.samples || [];
    const labels = samples.map((s) => s.at);
    $('period').textContent = '(orders per ' + data.periodSeconds + ' s)';
    chart($('chart-throughput'), labels, [
      { name: 'completed', values: samples.map((s) => s.completed) },
      { name: 'failed', values: samples.map((s) => s.failed) },
    ]);
    chart($('chart-latency'), labels, [
      { name: 'p50', values: samples.map((s) => s.latencyP50Seconds) },
      { name: 'p99', values: samples.map((s) => s.latencyP99Seconds) },
    ], 's');
    const last = samples[samples.length - 1] || {};
    $('queue-depth').textContent = figure(last.queueDepth);
    $('dlq-depth').textContent = figure(last.deadLetters);
    $('projection-lag').textContent = figure(last.projectionLagSeconds, 's');
  }

  async function loadAlarms() {
    const res = await api('/admin/alarms');
    const list = $('alarms');
    if (res.status === 404) { list.replaceChildren(el('li', { class: 'muted' }, 'no alarms')); return; }
    if (!res.ok) throw new Error('/admin/alarms: ' + res.status);
    const alarms = (await res.json()).alarms || [];
    if (!alarms.length) { list.replaceChildren(el('li', { class: 'muted' }, 'no alarms')); return; }
    list.replaceChildren(...alarms.map((a) => el('li', { 'data-alarm': a.name },
      el('span', { class: 'state ' + a.state }, a.state), ' ', a.name, ' ',
      el('span', { class: 'muted' }, 'since ' + time(a.since) + (a.reason ? ': ' + a.reason : '')))));
  }

  function renderEmails(data) {
    const rows = data.emails.map((e) => el('tr', {}, el('td', {}, time(e.at)), el('td', {}, e.topic),
      el('td', {}, e.subject), el('td', {}, orderLink(e.orderId))));
    $('emails').tBodies[0].replaceChildren(...rows);
    $('emails-empty').hidden = rows.length > 0;
  }

  async function redrive(body) {
    const res = await api('/admin/dead-letters/redrive', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const out = await res.json();
    if (!res.ok) throw new Error(out.error ? out.error.message : res.statusText);
    const moved = out.redriven.filter((r) => r.outcome === 'redriven').length;
    $('redrive-result').textContent = moved + ' of ' + out.redriven.length + ' redriven';
    refresh();
  }

  function renderDeadLetters(data) {
    const rows = data.deadLetters.map((d) => {
      const button = el('button', { type: 'button', class: 'redrive', 'data-id': d.id }, 'Redrive');
      button.addEventListener('click', () => redrive({ ids: [d.id] }).catch(show));
      return el('tr', { 'data-id': d.id }, el('td', { class: 'mono' }, d.id), el('td', {}, orderLink(d.orderId)),
        el('td', { class: 'n' }, figure(d.receiveCount)), el('td', {}, time(d.sentAt)), el('td', {}, button));
    });
    $('dead-letters').tBodies[0].replaceChildren(...rows);
    $('dead-letters-empty').hidden = rows.length > 0;
    $('redrive-all').hidden = rows.length === 0;
  }

  async function openOrder(id) {
    $('order-id').value = id;
    const box = $('timeline');
    const path = '/orders/' + encodeURIComponent(id.trim());
    const [order, events] = await Promise.all([api(path), api(path + '/events')]);
    if (!order.ok) { box.replaceChildren(el('p', { class: 'error' }, 'no order ' + id)); return; }
    const view = await order.json();
    const history = events.ok ? (await events.json()).events : [];
    box.replaceChildren(
      el('p', {}, el('span', { class: 'mono' }, view.orderId), ' ',
        el('strong', { id: 'timeline-status', class: 'status-' + view.status }, view.status),
        view.reason ? ' (' + view.reason + ')' : ''),
      el('ol', { id: 'timeline-events' }, ...history.map((e) => el('li', { 'data-type': e.type },
        el('strong', {}, e.type), ' ', el('span', { class: 'muted' }, 'v' + e.version + ' at ' + new Date(e.occurredAt).toLocaleString())))),
    );
  }

  function show(e) {
    if (e instanceof SignedOut) { signOut(e.message); return; }
    $('error').textContent = String(e.message || e);
  }

  async function refresh() {
    const jobs = [
      json('/admin/orders/counts').then(renderCounts),
      json('/admin/series').then(renderSeries),
      loadAlarms(),
      json('/admin/emails').then(renderEmails),
      json('/admin/dead-letters').then(renderDeadLetters),
    ];
    const results = await Promise.allSettled(jobs);
    const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failed.some((e) => e instanceof SignedOut)) { show(failed.find((e) => e instanceof SignedOut)); return; }
    $('error').textContent = failed.map((e) => e.message).join('; ');
    $('refreshed').textContent = 'refreshed ' + new Date().toLocaleTimeString();
  }

  document.addEventListener('DOMContentLoaded', () => {
    takeFragmentToken();
    $('sign-in-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN, $('token-input').value.trim());
      $('token-input').value = '';
      signIn();
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    $('search').addEventListener('submit', (ev) => { ev.preventDefault(); openOrder($('order-id').value).catch(show); });
    $('redrive-all').addEventListener('click', () => redrive({ all: true }).catch(show));
    if (sessionStorage.getItem(TOKEN)) signIn(); else signOut('');
  });
})();
