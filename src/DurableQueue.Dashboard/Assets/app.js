// DurableQueue dashboard. Plain script, no framework, no build step. Every value from the server is put into the page
// as text (text nodes, textContent, attributes that are never URLs or handlers): nothing is ever parsed as HTML, and
// the page's Content-Security-Policy (Trusted Types) makes any attempt to do so throw.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';
  // Okabe-Ito colours (distinguishable with colour-vision deficiencies), each with its own dash pattern too.
  const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#8C564B'];
  const DASHES = ['', '6 3', '2 3', '8 3 2 3', '4 4', '1 2', '10 4', '3 6'];

  const state = {
    session: null,
    overview: null,
    history: [],
    lastT: 0,
    pollTimer: null,
    route: null,
    view: null,
    failures: 0,
  };

  // ---------- DOM helpers ----------

  /** Creates an element: attributes by setAttribute (never event handlers), children as nodes or text. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'text') {
        el.textContent = String(value);
      } else if (key.startsWith('on')) {
        throw new Error('Event handlers are never set from strings.');
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }

  function append(el, children) {
    // Any depth: a list of label/value pairs (facts) is an array of arrays inside the children.
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  const $ = (id) => document.getElementById(id);
  const main = () => $('main');

  // ---------- Formatting ----------

  const numberFormat = new Intl.NumberFormat(undefined);
  const rateFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const fmtNumber = (n) => (n === null || n === undefined ? '–' : numberFormat.format(n));
  const fmtRate = (n) => (n === null || n === undefined ? '–' : rateFormat.format(n));

  function fmtBytes(n) {
    if (n === null || n === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = n;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${unit === 0 ? value : rateFormat.format(value)} ${units[unit]}`;
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    if (seconds < 1) return '< 1 s';
    if (seconds < 60) return `${Math.floor(seconds)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
  }

  /** A time element: local date and time as text, the ISO instant in datetime. */
  function time(iso) {
    if (!iso) return '–';
    const date = new Date(iso);
    return h('time', { datetime: date.toISOString(), text: date.toLocaleString() });
  }

  const queueHref = (name) => `#/queues/${encodeURIComponent(name)}`;
  const deadHref = (name) => `#/queues/${encodeURIComponent(name)}/dead-letters`;
  const queueApi = (name) => `api/queues/${encodeURIComponent(name)}`;

  // ---------- Server calls ----------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function request(path, options) {
    let response;
    try {
      response = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...options });
    } catch {
      throw new ApiError(0, 'The dashboard cannot be reached.');
    }
    const type = response.headers.get('Content-Type') || '';
    const body = type.includes('json') ? await response.json() : { error: await response.text() };
    if (!response.ok) {
      throw new ApiError(response.status, (body && body.error) || `The request failed (${response.status}).`);
    }
    return body;
  }

  const get = (path) => request(path);

  function post(path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (state.session.antiforgeryHeader) headers[state.session.antiforgeryHeader] = state.session.antiforgeryToken;
    return request(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
  }

  function announce(message) {
    const status = $('status');
    status.textContent = message;
    clearTimeout(announce.timer);
    announce.timer = setTimeout(() => { status.textContent = ''; }, 6000);
  }

  function showBanner(message) {
    const banner = $('banner');
    banner.textContent = message || '';
    banner.hidden = !message;
  }

  // ---------- Polling: one loop for the counts and the chart ----------

  function schedulePoll(delay) {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(poll, delay);
  }

  async function poll() {
    if (document.hidden) return; // resumed by visibilitychange
    try {
      const overview = await get(`api/overview?since=${state.lastT}`);
      mergeHistory(overview.history);
      state.overview = overview;
      state.failures = 0;
      showBanner('');
      $('updated').textContent = `Updated ${new Date(overview.takenAt).toLocaleTimeString()}`;
      if (state.view && state.view.update) state.view.update(overview);
    } catch (error) {
      state.failures++;
      showBanner(`Live updates paused: ${error.message} Retrying…`);
    }
    const backoff = Math.min(30000, state.session.refreshMs * Math.pow(2, Math.min(state.failures, 4)));
    schedulePoll(state.failures ? backoff : state.session.refreshMs);
  }

  function mergeHistory(points) {
    for (const point of points) {
      if (point.t > state.lastT) {
        state.history.push(point);
        state.lastT = point.t;
      }
    }
    const horizon = state.lastT - state.session.historySeconds * 1000;
    while (state.history.length && state.history[0].t < horizon) state.history.shift();
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) schedulePoll(0);
  });

  // ---------- Chart: a hand-drawn SVG line chart ----------

  /**
   * Draws series of [t, value] points over the history window into a figure.
   * series: [{ name, points: [[t, v], ...] }]
   */
  function chart(title, series, description) {
    const width = 860;
    const height = 240;
    const pad = { left: 56, right: 16, top: 12, bottom: 30 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const end = state.lastT || Date.now();
    const span = state.session.historySeconds * 1000;
    const start = end - span;
    let max = 0;
    for (const serie of series) for (const [, v] of serie.points) max = Math.max(max, v);
    const top = niceCeiling(max);
    const x = (t) => pad.left + ((t - start) / span) * plotW;
    const y = (v) => pad.top + plotH - (v / top) * plotH;

    const latest = series.map((serie) => {
      const last = serie.points[serie.points.length - 1];
      return `${serie.name}: ${last ? fmtNumber(last[1]) : 'no data'}`;
    });
    const label = series.length
      ? `${title}, last ${Math.round(span / 60000)} minutes. Now: ${latest.join('; ')}.`
      : `${title}: no samples yet.`;
    const svg = s('svg', {
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': label,
      'data-points': String(Math.max(0, ...series.map((serie) => serie.points.length))),
    });

    for (let i = 0; i <= 4; i++) {
      const value = (top / 4) * i;
      const yy = y(value);
      svg.append(s('line', { class: i === 0 ? 'axis' : 'grid', x1: pad.left, x2: width - pad.right, y1: yy, y2: yy }));
      svg.append(s('text', { x: pad.left - 6, y: yy + 4, 'text-anchor': 'end', text: fmtCompact(value) }));
    }
    const minutes = span / 60000;
    const step = minutes > 120 ? 60 : minutes > 30 ? 15 : minutes > 10 ? 5 : 1;
    for (let m = 0; m <= minutes; m += step) {
      const xx = x(end - m * 60000);
      svg.append(s('line', { class: 'grid', x1: xx, x2: xx, y1: pad.top, y2: pad.top + plotH }));
      svg.append(s('text', { x: xx, y: height - 8, 'text-anchor': m === 0 ? 'end' : 'middle', text: m === 0 ? 'now' : `−${m} min` }));
    }
    svg.append(s('line', { class: 'axis', x1: pad.left, x2: pad.left, y1: pad.top, y2: pad.top + plotH }));

    series.forEach((serie, i) => {
      if (!serie.points.length) return;
      const points = serie.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      const line = s('polyline', {
        points: serie.points.length === 1 ? `${points} ${points}` : points,
        stroke: COLORS[i % COLORS.length],
        'stroke-dasharray': DASHES[i % DASHES.length] || null,
        'data-series': serie.name,
      });
      line.append(s('title', { text: `${serie.name}: ${latest[i]}` }));
      svg.append(line);
    });

    const legend = h('ul', { class: 'legend', 'aria-hidden': 'true' },
      series.map((serie, i) => h('li', null,
        swatch(i),
        serie.name)));
    return h('figure', { class: 'chart', 'aria-label': title },
      svg,
      legend,
      description ? h('figcaption', { class: 'note', text: description }) : null);
  }

  function swatch(i) {
    return s('svg', { width: 28, height: 10, 'aria-hidden': 'true' },
      s('line', {
        x1: 0, x2: 28, y1: 5, y2: 5, 'stroke-width': 3,
        stroke: COLORS[i % COLORS.length],
        'stroke-dasharray': DASHES[i % DASHES.length] || null,
      }));
  }

  function niceCeiling(value) {
    if (value <= 4) return 4;
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const factor of [1, 2, 2.5, 5, 10]) {
      if (factor * magnitude >= value) return factor * magnitude;
    }
    return 10 * magnitude;
  }

  function fmtCompact(value) {
    if (value >= 1e6) return `${rateFormat.format(value / 1e6)}M`;
    if (value >= 1e4) return `${rateFormat.format(value / 1e3)}k`;
    return fmtNumber(Math.round(value * 100) / 100);
  }

  const depthOf = (counts) => counts[0] + counts[1] + counts[2];

  // ---------- Views ----------

  function table(caption, columns, rows, emptyText) {
    if (!rows.length) return h('p', { class: 'empty', text: emptyText });
    return h('div', { class: 'table-wrap' },
      h('table', null,
        h('caption', { text: caption }),
        h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
        h('tbody', null, rows)));
  }

  function card(label, value, id) {
    return h('div', null, h('dt', { text: label }), h('dd', { id, text: value }));
  }

  function capacityCell(capacity) {
    if (!capacity) return h('span', { class: 'note', text: 'unbounded' });
    const percent = Math.round(capacity.used * 100);
    const parts = [];
    if (capacity.maxMessages !== null) parts.push(`${fmtNumber(capacity.messages)} of ${fmtNumber(capacity.maxMessages)} messages`);
    if (capacity.maxBytes !== null) parts.push(`${fmtBytes(capacity.bytes)} of ${fmtBytes(capacity.maxBytes)}`);
    return h('span', { class: 'capacity' },
      h('meter', { min: 0, max: 100, low: 70, high: 90, optimum: 0, value: percent, 'aria-label': `Capacity used: ${parts.join(', ')}` }),
      `${percent} %`);
  }

  /**
   * The forwarders running in the app (store and forward), as a section of the overview: hidden while there are none
   * (or the app has no forwarding package). Read from the app's memory, one small request per refresh.
   */
  function forwardersView() {
    const slot = h('div');
    const root = h('section', { id: 'forwarders', 'aria-labelledby': 'forwarders-h', hidden: true },
      h('h2', { id: 'forwarders-h', text: 'Forwarders' }), slot);
    let pending = false;

    async function refresh() {
      if (pending) return;
      pending = true;
      try {
        const items = (await get('api/forwarders')).items;
        root.hidden = !items.length;
        slot.replaceChildren(table('Forwarders and their links (pacing: holding sends to the pace of the app\'s arrivals); the lag is the age of the oldest message not yet forwarded.', [
          { label: 'Forwarder' }, { label: 'Queue' }, { label: 'Link' }, { label: 'Since' }, { label: 'Forwarded', num: true },
          { label: 'Per second', num: true }, { label: 'Last forwarded' }, { label: 'Lag', num: true }, { label: 'In flight', num: true }, { label: 'Last error' },
        ], items.map((f) => h('tr', { 'data-forwarder': f.name },
          h('th', { scope: 'row', text: f.name }),
          h('td', null, h('a', { href: queueHref(f.queue), text: f.queue })),
          h('td', { class: `link-${f.link.toLowerCase()}` }, f.link,
            f.pacing ? [' ', h('span', { class: 'note', 'data-pacing': '', title: 'A send waits for the pace of the app\'s arrivals', text: '(pacing)' })] : null),
          h('td', null, time(f.linkSince)),
          h('td', { class: 'num', text: fmtNumber(f.forwarded) }),
          h('td', { class: 'num', text: fmtRate(f.forwardedPerSecond) }),
          h('td', null, time(f.lastForwardedAt)),
          h('td', { class: 'num', text: fmtAge(f.lagSeconds) }),
          h('td', { class: 'num', text: fmtNumber(f.inFlight) }),
          h('td', null, f.lastError ? [f.lastError, ' (', time(f.lastErrorAt), ')'] : '–'))), 'No forwarder runs in this app.'));
      } catch {
        // The overview's own request reports a dashboard that cannot be reached.
      } finally {
        pending = false;
      }
    }

    return { root, refresh };
  }

  /** The overview: summary cards, the depth chart, and a table of every queue, updated in place. */
  function overviewView() {
    const forwardersSection = forwardersView();
    const root = h('div');
    const cards = h('dl', { class: 'cards' });
    const chartSlot = h('div');
    const tableSlot = h('div');
    root.append(
      h('h1', { text: 'Queues' }),
      h('section', { 'aria-labelledby': 'summary-h' }, h('h2', { id: 'summary-h', class: 'visually-hidden', text: 'Summary' }), cards),
      h('section', { 'aria-labelledby': 'chart-h' }, h('h2', { id: 'chart-h', text: 'Depth over time' }), chartSlot),
      h('section', { 'aria-labelledby': 'table-h' }, h('h2', { id: 'table-h', text: 'All queues' }), tableSlot),
      forwardersSection.root);

    let rows = new Map();
    let tbody = null;

    function update(overview) {
      forwardersSection.refresh();
      const queues = overview.queues;
      const sum = (f) => queues.reduce((total, q) => total + f(q), 0);
      cards.replaceChildren(
        card('Queues', fmtNumber(queues.length), 'card-queues'),
        card('Ready', fmtNumber(sum((q) => q.ready)), 'card-ready'),
        card('Delayed', fmtNumber(sum((q) => q.delayed)), 'card-delayed'),
        card('Leased', fmtNumber(sum((q) => q.leased)), 'card-leased'),
        card('Dead letters', fmtNumber(sum((q) => q.deadLettered)), 'card-dead'),
        overview.store.backend === 'postgresql'
          ? card('Tables size', fmtBytes(overview.store.fileBytes), 'card-size')
          : card('File size', fmtBytes(overview.store.fileBytes + overview.store.walBytes), 'card-size'));

      // The chart: total depth of the busiest queues.
      const busiest = [...queues].sort((a, b) => (b.ready + b.delayed + b.leased) - (a.ready + a.delayed + a.leased) || (a.name < b.name ? -1 : 1)).slice(0, COLORS.length);
      const series = busiest.map((q) => ({
        name: q.name,
        points: state.history.filter((p) => p.q[q.name]).map((p) => [p.t, depthOf(p.q[q.name])]),
      }));
      const note = queues.length > busiest.length ? `The ${busiest.length} deepest of ${queues.length} queues; messages ready, delayed and leased.` : 'Messages ready, delayed and leased per queue.';
      chartSlot.replaceChildren(chart('Queue depth', series, note));

      // The table: rows keyed by queue name and updated cell by cell, so keyboard focus stays where it is.
      if (!queues.length) {
        tbody = null;
        rows = new Map();
        tableSlot.replaceChildren(h('p', { class: 'empty', text: 'The store has no queue yet: a queue appears with its first message.' }));
        return;
      }
      if (!tbody) {
        tbody = h('tbody');
        tableSlot.replaceChildren(h('div', { class: 'table-wrap' },
          h('table', { id: 'queues' },
            h('caption', { text: 'Messages per queue and state; rates over the last minute.' }),
            h('thead', null, h('tr', null,
              h('th', { scope: 'col', text: 'Queue' }),
              ['Ready', 'Delayed', 'Leased', 'Dead letters', 'Oldest ready', 'In /s', 'Out /s'].map((label) => h('th', { scope: 'col', class: 'num', text: label })),
              h('th', { scope: 'col', text: 'Capacity' }))),
            tbody)));
      }
      const seen = new Set();
      for (const q of queues) {
        seen.add(q.name);
        let row = rows.get(q.name);
        if (!row) {
          row = {
            tr: h('tr', { 'data-queue': q.name }),
            cells: {},
          };
          const nameCell = h('th', { scope: 'row' }, h('a', { href: queueHref(q.name), text: q.name }));
          row.tr.append(nameCell);
          for (const key of ['ready', 'delayed', 'leased', 'dead', 'age', 'in', 'out']) {
            row.cells[key] = h('td', { class: 'num', 'data-col': key });
            row.tr.append(row.cells[key]);
          }
          row.cells.capacity = h('td', { 'data-col': 'capacity' });
          row.tr.append(row.cells.capacity);
          rows.set(q.name, row);
        }
        setText(row.cells.ready, fmtNumber(q.ready));
        setText(row.cells.delayed, fmtNumber(q.delayed));
        setText(row.cells.leased, fmtNumber(q.leased));
        const deadText = fmtNumber(q.deadLettered);
        if (row.cells.dead.dataset.value !== deadText) {
          row.cells.dead.dataset.value = deadText;
          row.cells.dead.replaceChildren(q.deadLettered > 0
            ? h('a', { href: deadHref(q.name), 'aria-label': `${deadText} dead letters of ${q.name}`, text: deadText })
            : deadText);
        }
        setText(row.cells.age, fmtAge(q.oldestReadyAgeSeconds));
        setText(row.cells.in, fmtRate(q.enqueuedPerSecond));
        setText(row.cells.out, fmtRate(q.settledPerSecond));
        const capacityKey = JSON.stringify(q.capacity);
        if (row.cells.capacity.dataset.value !== capacityKey) {
          row.cells.capacity.dataset.value = capacityKey;
          row.cells.capacity.replaceChildren(capacityCell(q.capacity));
        }
      }
      for (const [name, row] of rows) {
        if (!seen.has(name)) {
          row.tr.remove();
          rows.delete(name);
        }
      }
      // Keep the rows in the server's (name) order, moving only rows out of place: a moved row would lose keyboard focus.
      let expected = tbody.firstChild;
      for (const q of queues) {
        const tr = rows.get(q.name).tr;
        if (tr === expected) expected = expected.nextSibling;
        else tbody.insertBefore(tr, expected);
      }
    }

    return { root, update, title: 'Queues', section: 'queues' };
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function breadcrumbs(...items) {
    return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('ol', null, items.map((item, i) => h('li', null,
        item.href ? h('a', { href: item.href, text: item.label }) : h('span', { 'aria-current': i === items.length - 1 ? 'page' : null, text: item.label })))));
  }

  function queueFacts(name) {
    const dl = h('dl', { class: 'cards' });
    function update(overview) {
      const q = overview.queues.find((x) => x.name === name);
      if (!q) {
        dl.replaceChildren(card('Messages', 'none', 'card-none'));
        return null;
      }
      dl.replaceChildren(
        card('Ready', fmtNumber(q.ready), 'card-ready'),
        card('Delayed', fmtNumber(q.delayed), 'card-delayed'),
        card('Leased', fmtNumber(q.leased), 'card-leased'),
        card('Dead letters', fmtNumber(q.deadLettered), 'card-dead'),
        card('Oldest ready', fmtAge(q.oldestReadyAgeSeconds), 'card-age'),
        card('In /s', fmtRate(q.enqueuedPerSecond), 'card-in'),
        card('Out /s', fmtRate(q.settledPerSecond), 'card-out'));
      if (q.capacity) dl.append(h('div', null, h('dt', { text: 'Capacity' }), h('dd', null, capacityCell(q.capacity))));
      return q;
    }
    return { dl, update };
  }

  function queueChart(name) {
    const labels = ['ready', 'delayed', 'leased', 'dead letters'];
    const series = labels.map((label, i) => ({
      name: label,
      points: state.history.filter((p) => p.q[name]).map((p) => [p.t, p.q[name][i]]),
    }));
    return chart(`Depth of ${name}`, series, null);
  }

  function bodyBlock(message) {
    if (!state.session.showBodies) {
      return h('p', { class: 'note', text: `Bodies are hidden (the ShowMessageBodies option is off). Size: ${fmtBytes(message.bodyBytes)}.` });
    }
    const body = message.body;
    const pre = h('pre', { class: 'body', tabindex: '0', 'aria-label': 'Message body' });
    const wrap = h('div');
    const show = (mode) => {
      pre.textContent = mode === 'text' ? body.text : body.hex.replace(/(.{2})/g, '$1 ').replace(/((?:\S\S ){16})/g, '$1\n');
      pre.dataset.mode = mode;
    };
    const modes = h('fieldset', { class: 'choice' }, h('legend', { text: 'Show body as' }));
    for (const mode of ['text', 'hex']) {
      const id = `body-${mode}`;
      const input = h('input', { type: 'radio', name: 'body-mode', id, value: mode, disabled: mode === 'text' && body.text === null, onchange: () => show(mode) });
      modes.append(h('span', null, input, ' ', h('label', { for: id, text: mode === 'text' ? 'Text' : 'Hex' })));
    }
    const initial = body.text === null ? 'hex' : 'text';
    modes.querySelector(`#body-${initial}`).checked = true;
    show(initial);
    wrap.append(
      h('h3', { text: 'Body' }),
      modes,
      body.text === null ? h('p', { class: 'note', text: 'Not readable as UTF-8 text.' }) : null,
      pre,
      h('p', { class: 'note', text: `${fmtBytes(message.bodyBytes)}${body.truncated ? ', cut at the display limit' : ''}.` }));
    return wrap;
  }

  function headersBlock(headers) {
    const entries = Object.entries(headers || {});
    return h('div', null,
      h('h3', { text: 'Headers' }),
      entries.length
        ? h('div', { class: 'table-wrap' }, h('table', null,
          h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'Name' }), h('th', { scope: 'col', text: 'Value' }))),
          h('tbody', null, entries.map(([k, v]) => h('tr', null, h('th', { scope: 'row', class: 'text', text: k }), h('td', { class: 'text', text: v }))))))
        : h('p', { class: 'note', text: 'No headers.' }));
  }

  function facts(pairs) {
    return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([label, value]) => [h('dt', { text: label }), h('dd', null, value)]));
  }

  /** Shows a detail panel and moves focus to its heading. */
  function showDetail(slot, heading, ...content) {
    const title = h('h2', { tabindex: '-1', text: heading });
    const close = h('button', { type: 'button', text: 'Close', onclick: () => { slot.replaceChildren(); } });
    slot.replaceChildren(h('section', { class: 'detail', 'aria-label': heading }, title, ...content, h('p', null, close)));
    title.focus();
  }

  /** A queue: counts, chart and messages (delivery order, or enqueue order with paging), one message in detail. */
  function queueView(name) {
    const root = h('div');
    const factsView = queueFacts(name);
    const chartSlot = h('div');
    const listSlot = h('div');
    const detailSlot = h('div');
    let order = 'delivery';
    let cursors = [null];

    const orderChoice = h('fieldset', { class: 'choice' }, h('legend', { text: 'Order' }),
      [['delivery', 'Next to deliver'], ['enqueue', 'Enqueue order (all, paged)']].map(([value, label]) => {
        const id = `order-${value}`;
        return h('span', null,
          h('input', { type: 'radio', name: 'order', id, value, checked: value === order, onchange: () => { order = value; cursors = [null]; load(); } }),
          ' ', h('label', { for: id, text: label }));
      }));
    const refresh = h('button', { type: 'button', text: 'Refresh list', onclick: () => load() });

    root.append(
      breadcrumbs({ label: 'Queues', href: '#/' }, { label: name }),
      h('h1', { text: name }),
      factsView.dl,
      h('p', null, h('a', { href: deadHref(name), text: 'Dead letters of this queue' })),
      h('section', { 'aria-labelledby': 'qchart-h' }, h('h2', { id: 'qchart-h', text: 'Depth over time' }), chartSlot),
      h('section', { 'aria-labelledby': 'messages-h' },
        h('h2', { id: 'messages-h', text: 'Messages' }),
        h('div', { class: 'toolbar' }, orderChoice, h('span', { class: 'spacer' }), refresh),
        listSlot,
        detailSlot));

    async function load() {
      const after = cursors[cursors.length - 1];
      try {
        const page = await get(`${queueApi(name)}/messages?order=${order}${after ? `&after=${after}` : ''}`);
        const rows = page.items.map((m) => h('tr', { 'data-id': m.id },
          h('td', { class: 'num' }, h('button', { type: 'button', class: 'link', 'aria-label': `Show message ${m.id}`, text: String(m.id), onclick: () => openMessage(m.id) })),
          h('td', { class: `state-${m.state}`, text: m.state }),
          h('td', { class: 'num', text: String(m.priority) }),
          h('td', { class: 'num', text: `${m.attempts} / ${m.maxAttempts}` }),
          h('td', null, time(m.enqueuedAt)),
          h('td', null, m.state === 'Ready' ? '–' : time(m.visibleAt)),
          h('td', { class: 'num', text: fmtBytes(m.bodyBytes) }),
          h('td', { class: 'text', text: m.lastError || '' })));
        const caption = order === 'delivery'
          ? `The next ${state.session.pageSize} messages in delivery order (then delayed and leased ones).`
          : `Messages by id, page ${cursors.length}.`;
        const pager = h('div', { class: 'toolbar' },
          order === 'enqueue' && cursors.length > 1 ? h('button', { type: 'button', text: 'Previous page', onclick: () => { cursors.pop(); load(); } }) : null,
          page.next ? h('button', { type: 'button', text: 'Next page', onclick: () => { cursors.push(page.next); load(); } }) : null);
        listSlot.replaceChildren(
          table(caption, [{ label: 'Id', num: true }, { label: 'State' }, { label: 'Priority', num: true }, { label: 'Attempts', num: true },
            { label: 'Enqueued' }, { label: 'Visible at' }, { label: 'Size', num: true }, { label: 'Last error' }], rows, 'No messages.'),
          pager);
      } catch (error) {
        listSlot.replaceChildren(h('p', { class: 'bad', text: error.message }));
      }
    }

    async function openMessage(id) {
      try {
        const m = await get(`${queueApi(name)}/messages/${id}`);
        showDetail(detailSlot, `Message ${m.id}`,
          facts([
            ['State', h('span', { class: `state-${m.state}`, text: m.state })],
            ['Priority', String(m.priority)],
            ['Attempts', `${m.attempts} of ${m.maxAttempts}`],
            ['Enqueued', time(m.enqueuedAt)],
            [m.state === 'Leased' ? 'Lease expires' : 'Visible at', time(m.visibleAt)],
            m.deduplicationKey ? ['Deduplication key', m.deduplicationKey] : null,
            m.lastError ? ['Last error', m.lastError] : null,
          ]),
          headersBlock(m.headers),
          bodyBlock(m));
      } catch (error) {
        announce(error.message);
      }
    }

    function update() {
      factsView.update(state.overview);
      chartSlot.replaceChildren(queueChart(name));
    }

    load();
    return { root, update, title: name, section: 'queues' };
  }

  /** Dead letters of a queue: list, detail, requeue one / selected / all, purge with a confirmation. */
  function deadLettersView(name) {
    const root = h('div');
    const factsView = queueFacts(name);
    const listSlot = h('div');
    const detailSlot = h('div');
    const writes = state.session.writeActions;
    let cursors = [null];
    const selected = new Set();

    const requeueSelected = h('button', { type: 'button', class: 'primary', disabled: true, text: 'Requeue selected', onclick: () => requeue([...selected]) });
    const requeueAll = h('button', { type: 'button', text: 'Requeue all', onclick: () => requeue(null) });
    const purgeAll = h('button', { type: 'button', class: 'danger', text: 'Purge all…', onclick: () => purge() });
    const refresh = h('button', { type: 'button', text: 'Refresh list', onclick: () => load() });

    root.append(
      breadcrumbs({ label: 'Queues', href: '#/' }, { label: name, href: queueHref(name) }, { label: 'Dead letters' }),
      h('h1', { text: `Dead letters of ${name}` }),
      factsView.dl,
      h('section', { 'aria-labelledby': 'dead-h' },
        h('h2', { id: 'dead-h', text: 'Dead letters' }),
        h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Dead letter actions' },
          writes ? [requeueSelected, requeueAll, purgeAll] : h('span', { class: 'note', text: 'Read-only: write actions are turned off.' }),
          h('span', { class: 'spacer' }), refresh),
        listSlot,
        detailSlot));

    function syncSelection() {
      requeueSelected.disabled = selected.size === 0;
      requeueSelected.textContent = selected.size ? `Requeue selected (${selected.size})` : 'Requeue selected';
    }

    async function load() {
      const after = cursors[cursors.length - 1];
      selected.clear();
      syncSelection();
      try {
        const page = await get(`${queueApi(name)}/dead-letters${after ? `?after=${after}` : ''}`);
        const rows = page.items.map((d) => h('tr', { 'data-id': d.id },
          writes ? h('td', null, h('input', {
            type: 'checkbox',
            'aria-label': `Select dead letter ${d.id}`,
            onchange: (e) => { if (e.target.checked) selected.add(d.id); else selected.delete(d.id); syncSelection(); },
          })) : null,
          h('td', { class: 'num' }, h('button', { type: 'button', class: 'link', 'aria-label': `Show dead letter ${d.id}`, text: String(d.id), onclick: () => open(d.id) })),
          h('td', { class: 'text', text: d.reason }),
          h('td', { class: 'text', text: d.lastError || '' }),
          h('td', { class: 'num', text: `${d.attempts} / ${d.maxAttempts}` }),
          h('td', null, time(d.deadLetteredAt)),
          h('td', { class: 'num', text: fmtBytes(d.bodyBytes) }),
          writes ? h('td', null, h('button', { type: 'button', 'aria-label': `Requeue dead letter ${d.id}`, text: 'Requeue', onclick: () => requeue([d.id]) })) : null));
        const columns = [
          writes ? { label: h('span', { class: 'visually-hidden', text: 'Select' }) } : null,
          { label: 'Id', num: true }, { label: 'Reason' }, { label: 'Last error' }, { label: 'Attempts', num: true },
          { label: 'Dead-lettered' }, { label: 'Size', num: true },
          writes ? { label: h('span', { class: 'visually-hidden', text: 'Actions' }) } : null,
        ].filter(Boolean);
        const pager = h('div', { class: 'toolbar' },
          cursors.length > 1 ? h('button', { type: 'button', text: 'Previous page', onclick: () => { cursors.pop(); load(); } }) : null,
          page.next ? h('button', { type: 'button', text: 'Next page', onclick: () => { cursors.push(page.next); load(); } }) : null);
        listSlot.replaceChildren(table(`Dead letters by id, page ${cursors.length}.`, columns, rows, 'No dead letters.'), pager);
      } catch (error) {
        listSlot.replaceChildren(h('p', { class: 'bad', text: error.message }));
      }
    }

    async function open(id) {
      try {
        const d = await get(`${queueApi(name)}/dead-letters/${id}`);
        showDetail(detailSlot, `Dead letter ${d.id}`,
          facts([
            ['Reason', d.reason],
            ['Last error', d.lastError || '–'],
            ['Attempts', `${d.attempts} of ${d.maxAttempts}`],
            ['Priority', String(d.priority)],
            ['Enqueued', time(d.enqueuedAt)],
            ['Dead-lettered', time(d.deadLetteredAt)],
          ]),
          headersBlock(d.headers),
          bodyBlock(d),
          writes ? h('p', null, h('button', { type: 'button', class: 'primary', text: 'Requeue this message', onclick: () => requeue([d.id]) })) : null);
      } catch (error) {
        announce(error.message);
      }
    }

    async function requeue(ids) {
      try {
        const result = ids && ids.length === 1
          ? await post(`${queueApi(name)}/dead-letters/${ids[0]}/requeue`)
          : await post(`${queueApi(name)}/dead-letters/requeue`, ids ? { ids } : { all: true });
        announce(`Requeued ${fmtNumber(result.count)} message${result.count === 1 ? '' : 's'} to ${name}.`);
        detailSlot.replaceChildren();
        cursors = [null];
        await load();
        schedulePoll(0);
      } catch (error) {
        announce(`Requeue failed: ${error.message}`);
      }
    }

    async function purge() {
      const q = state.overview && state.overview.queues.find((x) => x.name === name);
      const count = q ? fmtNumber(q.deadLettered) : 'all';
      const confirmed = await confirmDialog(
        'Purge dead letters',
        `This deletes ${count} dead letter${count === '1' ? '' : 's'} of queue ${name} for good. It cannot be undone.`,
        name);
      if (!confirmed) {
        announce('Purge cancelled.');
        return;
      }
      try {
        const result = await post(`${queueApi(name)}/dead-letters/purge`, { confirm: name });
        announce(`Purged ${fmtNumber(result.count)} dead letter${result.count === 1 ? '' : 's'} of ${name}.`);
        detailSlot.replaceChildren();
        cursors = [null];
        await load();
        schedulePoll(0);
      } catch (error) {
        announce(`Purge failed: ${error.message}`);
      }
    }

    function update() {
      factsView.update(state.overview);
    }

    load();
    return { root, update, title: `Dead letters of ${name}`, section: 'queues' };
  }

  /** The confirmation step: the user types the expected text; resolves true only on a matching submit. */
  function confirmDialog(title, text, expected) {
    const dialog = $('confirm');
    const input = $('confirm-input');
    const ok = $('confirm-ok');
    const opener = document.activeElement;
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-label').textContent = `Type the queue name (${expected}) to confirm`;
    input.value = '';
    ok.disabled = true;
    return new Promise((resolve) => {
      let done = false;
      const finish = (result) => {
        if (done) return;
        done = true;
        input.removeEventListener('input', onInput);
        $('confirm-cancel').removeEventListener('click', onCancel);
        $('confirm-form').removeEventListener('submit', onSubmit);
        dialog.removeEventListener('close', onClose);
        if (dialog.open) dialog.close();
        if (opener && opener.focus) opener.focus();
        resolve(result);
      };
      const onInput = () => { ok.disabled = input.value !== expected; };
      const onCancel = () => finish(false);
      const onClose = () => finish(false);
      const onSubmit = (e) => { e.preventDefault(); finish(input.value === expected); };
      input.addEventListener('input', onInput);
      $('confirm-cancel').addEventListener('click', onCancel);
      $('confirm-form').addEventListener('submit', onSubmit);
      dialog.addEventListener('close', onClose);
      dialog.showModal();
      input.focus();
    });
  }

  /** Jobs and recurring schedules (from DurableQueue.Hosting). */
  function jobsView() {
    const root = h('div');
    const schedulesSlot = h('div');
    const listSlot = h('div');
    const detailSlot = h('div');
    const writes = state.session.writeActions;
    let cursors = [null];
    root.append(h('h1', { text: 'Jobs' }));
    if (!state.session.jobsAvailable) {
      root.append(h('p', { class: 'note', text: 'Jobs and schedules need DurableQueue.Hosting: register the store with AddDurableQueue.' }));
      return { root, title: 'Jobs', section: 'jobs' };
    }
    root.append(
      h('section', { 'aria-labelledby': 'sched-h' }, h('h2', { id: 'sched-h', text: 'Recurring jobs' }), schedulesSlot),
      h('section', { 'aria-labelledby': 'jobs-h' },
        h('h2', { id: 'jobs-h', text: 'Jobs, newest first' }),
        h('div', { class: 'toolbar' }, h('span', { class: 'spacer' }), h('button', { type: 'button', text: 'Refresh list', onclick: () => load() })),
        listSlot,
        detailSlot));

    async function load() {
      const before = cursors[cursors.length - 1];
      try {
        const page = await get(`api/jobs${before ? `?before=${before}` : ''}`);
        schedulesSlot.replaceChildren(table('Recurring schedules.',
          [{ label: 'Name' }, { label: 'Cron' }, { label: 'Queue' }, { label: 'Last occurrence' }, { label: 'Next occurrence' }],
          page.schedules.map((sc) => h('tr', null,
            h('th', { scope: 'row', class: 'text', text: sc.name }),
            h('td', null, h('code', { text: sc.cron })),
            h('td', null, h('a', { href: queueHref(sc.queue), text: sc.queue })),
            h('td', null, time(sc.last)),
            h('td', null, time(sc.next)))),
          'No recurring jobs.'));
        const rows = page.items.map((j) => h('tr', { 'data-id': j.id },
          h('td', { class: 'num' }, h('button', { type: 'button', class: 'link', 'aria-label': `Show job ${j.id}`, text: String(j.id), onclick: () => open(j.id) })),
          h('td', null, h('a', { href: queueHref(j.queue), text: j.queue })),
          h('td', { class: `state-${j.state}`, text: j.state }),
          h('td', { class: 'num', text: String(j.attempts) }),
          h('td', null, time(j.createdAt)),
          h('td', null, time(j.completedAt)),
          h('td', { class: 'text', text: j.lastError || '' }),
          writes ? h('td', null, j.cancellable ? h('button', { type: 'button', 'aria-label': `Cancel job ${j.id}`, text: 'Cancel', onclick: () => cancel(j.id) }) : null) : null));
        const columns = [{ label: 'Id', num: true }, { label: 'Queue' }, { label: 'State' }, { label: 'Attempts', num: true }, { label: 'Created' },
          { label: 'Completed' }, { label: 'Last error' }, writes ? { label: h('span', { class: 'visually-hidden', text: 'Actions' }) } : null].filter(Boolean);
        const pager = h('div', { class: 'toolbar' },
          cursors.length > 1 ? h('button', { type: 'button', text: 'Newer jobs', onclick: () => { cursors.pop(); load(); } }) : null,
          page.next ? h('button', { type: 'button', text: 'Older jobs', onclick: () => { cursors.push(page.next); load(); } }) : null);
        listSlot.replaceChildren(table(`Jobs, page ${cursors.length}; finished jobs stay listed for their retention time.`, columns, rows, 'No jobs.'), pager);
      } catch (error) {
        listSlot.replaceChildren(h('p', { class: 'bad', text: error.message }));
      }
    }

    async function open(id) {
      try {
        const j = await get(`api/jobs/${id}`);
        showDetail(detailSlot, `Job ${j.id}`,
          facts([
            ['Queue', j.queue],
            ['State', h('span', { class: `state-${j.state}`, text: j.state })],
            ['Attempts', String(j.attempts)],
            ['Created', time(j.createdAt)],
            j.runAt ? ['Run at', time(j.runAt)] : null,
            ['Started', time(j.startedAt)],
            j.nextAttemptAt ? ['Next attempt', time(j.nextAttemptAt)] : null,
            ['Completed', time(j.completedAt)],
            ['Last error', j.lastError || '–'],
          ]),
          h('h3', { text: 'Result' }),
          !j.hasResult ? h('p', { class: 'note', text: 'No result stored.' })
            : state.session.showBodies ? h('pre', { class: 'body', tabindex: '0', text: j.result || '' })
              : h('p', { class: 'note', text: 'Results are hidden (the ShowMessageBodies option is off).' }),
          writes && j.cancellable ? h('p', null, h('button', { type: 'button', text: 'Cancel this job', onclick: () => cancel(j.id) })) : null);
      } catch (error) {
        announce(error.message);
      }
    }

    async function cancel(id) {
      try {
        await post(`api/jobs/${id}/cancel`);
        announce(`Cancelled job ${id}.`);
        detailSlot.replaceChildren();
        await load();
      } catch (error) {
        announce(`Cancel failed: ${error.message}`);
      }
    }

    load();
    return { root, title: 'Jobs', section: 'jobs' };
  }

  /**
   * The store: sizes, schema, and (with write actions) verify and compact with their results. A store on PostgreSQL has
   * no file, WAL or pages of its own: those figures and compact are not shown there, and the page says why.
   */
  function storeView() {
    const root = h('div');
    const factsSlot = h('div');
    const maintenanceSlot = h('div');
    const resultSlot = h('div', { id: 'maintenance-result', role: 'status', 'aria-live': 'polite' });
    const writes = state.session.writeActions;
    const verify = h('button', { type: 'button', class: 'primary', text: 'Verify', onclick: () => run('verify') });
    const compact = h('button', { type: 'button', text: 'Compact', onclick: () => run('compact') });
    let shownBackend = null;
    root.append(
      h('h1', { text: 'Store' }),
      factsSlot,
      h('section', { 'aria-labelledby': 'maint-h' },
        h('h2', { id: 'maint-h', text: 'Maintenance' }),
        maintenanceSlot,
        resultSlot));

    function maintenance(postgres) {
      if (postgres) {
        return [
          writes
            ? h('div', { class: 'toolbar' }, verify)
            : h('p', { class: 'note', text: 'Read-only: verify needs write actions turned on.' }),
          h('p', { class: 'note', text: 'Verify checks the queue tables (every message and dead letter in a queue, counts that add up).' }),
          h('p', { class: 'note', id: 'compact-not-here', text: 'Compact: not on PostgreSQL. It hands a SQLite file\'s free pages back and truncates its WAL; on PostgreSQL the server keeps its own WAL and autovacuum reclaims space.' }),
        ];
      }

      return [
        writes
          ? h('div', { class: 'toolbar' }, verify, compact)
          : h('p', { class: 'note', text: 'Read-only: verify and compact need write actions turned on.' }),
        h('p', { class: 'note', text: 'Verify reads every page of the file; compact hands free pages back to the file system and truncates the WAL.' }),
      ];
    }

    async function load() {
      try {
        const st = await get('api/store');
        const postgres = st.backend === 'postgresql';
        factsSlot.replaceChildren(postgres
          ? facts([
            ['Database', st.path],
            ['Backend', 'PostgreSQL'],
            ['Schema version', String(st.schemaVersion)],
            ['Size of the queue tables', fmtBytes(st.fileBytes)],
            ['Last message id', fmtNumber(st.lastMessageId)],
            ['Queues', fmtNumber(st.queues)],
            ['Read at', time(st.takenAt)],
          ])
          : facts([
            ['File', st.path],
            ['Schema version', String(st.schemaVersion)],
            ['Journal mode', st.journalMode],
            ['File size', fmtBytes(st.fileBytes)],
            ['WAL size', fmtBytes(st.walBytes)],
            ['Page size', fmtBytes(st.pageSize)],
            ['Pages', fmtNumber(st.pageCount)],
            ['Free pages', `${fmtNumber(st.freePages)} (${fmtBytes(st.freeBytes)})`],
            ['Incremental vacuum', st.incrementalVacuum ? 'yes' : 'no'],
            ['Last message id', fmtNumber(st.lastMessageId)],
            ['Queues', fmtNumber(st.queues)],
            ['Read at', time(st.takenAt)],
          ]));
        if (shownBackend !== st.backend) {
          // Once: the controls depend on the backend only, and replacing them would move keyboard focus.
          shownBackend = st.backend;
          maintenanceSlot.replaceChildren(...maintenance(postgres));
        }
      } catch (error) {
        factsSlot.replaceChildren(h('p', { class: 'bad', text: error.message }));
      }
    }

    async function run(action) {
      verify.disabled = compact.disabled = true;
      resultSlot.replaceChildren(h('p', { text: action === 'verify' ? 'Verifying…' : 'Compacting…' }));
      try {
        const r = await post(`api/store/${action}`);
        if (action === 'verify') {
          // Through append, which leaves out the lists that are absent (replaceChildren would write "null").
          resultSlot.replaceChildren();
          append(resultSlot, [
            h('h3', { text: 'Verification' }),
            h('p', { class: r.healthy ? 'ok' : 'bad', text: r.healthy ? `Healthy: all ${r.checks.length} checks passed in ${rateFormat.format(r.seconds)} s.` : 'Problems found.' }),
            r.integrityErrors.length ? h('ul', null, r.integrityErrors.map((e) => h('li', { text: e }))) : null,
            r.problems.length ? h('ul', null, r.problems.map((p) => h('li', { text: `${p.check}: ${p.description} (${fmtNumber(p.count)})` }))) : null]);
        } else {
          resultSlot.replaceChildren(
            h('h3', { text: 'Compaction' }),
            h('p', { class: 'ok', text: `Returned ${fmtBytes(r.bytesReturned)} to the file system.` }),
            facts([
              ['File', `${fmtBytes(r.fileBytesBefore)} → ${fmtBytes(r.fileBytesAfter)}`],
              ['WAL', `${fmtBytes(r.walBytesBefore)} → ${fmtBytes(r.walBytesAfter)}`],
              ['Free pages', `${fmtNumber(r.freePagesBefore)} → ${fmtNumber(r.freePagesAfter)}`],
              ['Checkpoint completed', r.checkpointCompleted ? 'yes' : 'no (a reader held it back)'],
            ]));
          await load();
        }
      } catch (error) {
        resultSlot.replaceChildren(h('p', { class: 'bad', text: `${action === 'verify' ? 'Verify' : 'Compact'} failed: ${error.message}` }));
      } finally {
        verify.disabled = compact.disabled = false;
      }
    }

    load();
    return { root, title: 'Store', section: 'store' };
  }

  // ---------- Router ----------

  function parseRoute() {
    const hash = location.hash || '#/';
    const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map((p) => {
      try { return decodeURIComponent(p); } catch { return p; }
    });
    if (parts[0] === 'queues' && parts[1]) return parts[2] === 'dead-letters' ? { view: 'dead', name: parts[1] } : { view: 'queue', name: parts[1] };
    if (parts[0] === 'jobs') return { view: 'jobs' };
    if (parts[0] === 'store') return { view: 'store' };
    return { view: 'overview' };
  }

  function render(event) {
    const route = parseRoute();
    state.route = route;
    const view = route.view === 'queue' ? queueView(route.name)
      : route.view === 'dead' ? deadLettersView(route.name)
        : route.view === 'jobs' ? jobsView()
          : route.view === 'store' ? storeView()
            : overviewView();
    state.view = view;
    document.title = `${view.title} · ${state.session.title}`;
    for (const link of document.querySelectorAll('.top nav a')) {
      if (link.dataset.section === view.section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    main().replaceChildren(view.root);
    if (state.overview && view.update) view.update(state.overview);
    // After a navigation inside the dashboard, move focus to the new page so keyboard and screen-reader users start at
    // its top; on first load the browser's own order (skip link first) stays.
    if (event) main().focus();
  }

  async function start() {
    $('skip').addEventListener('click', (e) => {
      e.preventDefault();
      main().focus();
      main().scrollIntoView();
    });
    try {
      state.session = await get('api/session');
    } catch (error) {
      main().replaceChildren(h('h1', { text: 'Dashboard unavailable' }), h('p', { class: 'bad', text: error.message }));
      return;
    }
    $('mode').textContent = state.session.writeActions ? 'Write actions on' : 'Read-only';
    window.addEventListener('hashchange', render);
    render(null);
    poll();
  }

  start();
})();
