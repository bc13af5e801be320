'use strict';
// The Firebreak console: a thin client of the appliance API. Every value
// that comes from the API (and so possibly from traffic) reaches the page
// as text (textContent, text nodes, input values), never as markup.

// A page served with <meta name="firebreak-root"> is HQ's read-only view of
// one appliance's cases (firebreak hq serve): its API lives under that
// root, only the case pages are shown, and no control that changes
// anything is drawn (HQ's server refuses every change anyway).
const ROOT = (document.querySelector('meta[name="firebreak-root"]') || {}).content || '';

const S = {
  session: null,
  readonly: ROOT !== '',
  lang: localStorage.getItem('lang') || 'zh-CN',
  dict: {},
  caseId: localStorage.getItem('caseId') || '',
  cases: [],
  poll: null,
  pollTimer: null,
};

const PAGES = ROOT ? ['case', 'triage', 'evidence', 'report']
  : ['dashboard', 'case', 'alerts', 'hosts', 'containment', 'modules', 'triage', 'evidence', 'sync', 'report'];
const PHASES = ['intake', 'confirmed', 'contained', 'eradicated', 'recovered', 'hardened', 'reported', 'closed'];

function t(key, ...args) {
  let s = Object.prototype.hasOwnProperty.call(S.dict, key) ? S.dict[key] : key;
  args.forEach((a, i) => { s = s.split('{' + i + '}').join(String(a)); });
  return s;
}

// h builds an element. Properties are set as DOM properties (text via
// textContent); children are nodes or strings (which become text nodes).
function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('aria') || k === 'role' || k === 'for') e.setAttribute(k.replace(/^aria/, 'aria-').toLowerCase(), v);
    else e[k] = v;
  }
  for (const c of kids.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const $ = (id) => document.getElementById(id);
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

class APIError extends Error {
  constructor(status, msg, id) { super(msg); this.status = status; this.id = id; }
}

async function api(method, path, body, opts = {}) {
  const headers = {};
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = S.session ? S.session.csrf : '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(ROOT + '/api/v1' + path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401) { location.href = ROOT + '/login'; throw new APIError(401, t('session.expired')); }
  if (!r.ok) {
    const e = await r.json().catch(() => ({}));
    throw new APIError(r.status, e.error || r.statusText, e.id);
  }
  if (opts.raw) return r;
  if (r.status === 204) return null;
  return r.json();
}

function flash(msg, kind) {
  const f = clear($('flash'));
  if (!msg) return;
  f.className = kind || 'info';
  f.append(h('span', { text: msg }), h('button', { type: 'button', class: 'link', text: '×', onclick: () => flash('') }));
}

function failed(err) {
  flash(t('error') + ': ' + err.message + (err.id ? ' (' + err.id + ')' : ''), 'error');
}

// run does an action and reports its outcome.
async function run(fn, okMsg) {
  try {
    const v = await fn();
    if (okMsg) flash(okMsg, 'ok');
    return v;
  } catch (err) {
    failed(err);
    return undefined;
  }
}

const canAct = () => S.session && S.session.role !== 'viewer';
const isAdmin = () => S.session && S.session.role === 'admin';

// actButton is a button for something that changes state; viewers see it
// disabled with the reason.
function actButton(label, onclick, cls) {
  if (S.readonly) return document.createDocumentFragment(); // nothing, wherever it is put
  const b = h('button', { type: 'button', text: label, onclick, class: cls || '' });
  if (!canAct()) { b.disabled = true; b.title = t('viewer.cannot'); }
  return b;
}

// confirm asks before an action that can hurt, with optional extra nodes
// (a reason field, what the plan would change).
function confirmDialog(text, extra) {
  return new Promise((resolve) => {
    const d = $('confirm');
    $('confirm-text').textContent = text;
    const x = clear($('confirm-extra'));
    if (extra) x.append(...[].concat(extra));
    $('confirm-ok').textContent = t('confirm.ok');
    $('confirm-cancel').textContent = t('confirm.cancel');
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
  });
}

function fmtBytes(n) {
  n = Number(n || 0);
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}
function fmtNum(n) { return Number(n || 0).toLocaleString(S.lang); }
function fmtTime(s) {
  if (!s || s.startsWith('0001-')) return '—';
  const d = new Date(s);
  return isNaN(d) ? String(s) : d.toLocaleString(S.lang, { hour12: false });
}
function fmtDur(ms) {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s %= 86400;
  const hh = Math.floor(s / 3600); s %= 3600;
  const mm = Math.floor(s / 60); s %= 60;
  const p = (x) => String(x).padStart(2, '0');
  return (neg ? '-' : '') + (d ? d + 'd ' : '') + p(hh) + ':' + p(mm) + ':' + p(s);
}

// countdown is a span the one-second ticker keeps up to date.
function countdown(due) {
  const e = h('span', { class: 'countdown', dataset: { due } });
  tickOne(e);
  return e;
}
function tickOne(e) {
  const left = new Date(e.dataset.due) - Date.now();
  e.textContent = fmtDur(left);
  e.classList.toggle('late', left < 0);
}
setInterval(() => document.querySelectorAll('.countdown').forEach(tickOne), 1000);

function table(headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'empty', text: empty || t('none') });
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { text: x })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c === undefined || c === null ? '' : c))))));
}

function section(title, ...kids) { return h('section', { class: 'card' }, h('h2', { text: title }), ...kids); }

function needCase(main) {
  if (S.caseId) return false;
  main.append(section(t('case.none'), h('p', { text: t('case.pick') })));
  return true;
}

function label(l) { return l ? (S.lang.startsWith('zh') ? l.zh : l.en) || l.en || '' : ''; }

// download fetches a URL with the session and saves the answer as a file.
async function download(path, method, name, onProgress, total) {
  const r = await api(method, path, undefined, { raw: true });
  const reader = r.body.getReader();
  const chunks = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    if (onProgress) onProgress(got, total || Number(r.headers.get('Content-Length')) || 0);
  }
  const url = URL.createObjectURL(new Blob(chunks));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return got;
}

// ---- pages ----

const pages = {};

pages.dashboard = async (main) => {
  const status = h('div'), chart = h('div', { class: 'chart' }), talkers = h('div'), protos = h('div'), alerts = h('div');
  main.append(
    section(t('dash.capture'), status),
    section(t('dash.traffic'), chart),
    h('div', { class: 'cols' }, section(t('dash.talkers'), talkers), section(t('dash.protocols'), protos)),
    section(t('dash.alerts'), alerts));
  let plot = null;
  S.poll = async () => {
    const [st, tr, al] = await Promise.all([api('GET', '/capture'), api('GET', '/console/traffic?buckets=60&top=10'),
      api('GET', '/capture/events?type=alert&limit=10')]);
    clear(status).append(
      table([t('src.name'), t('src.kind'), t('src.state'), t('packets'), t('bytes'), t('drops')],
        (st.sources || []).map((s) => [s.name, s.kind, t('state.' + s.state), fmtNum(s.packets), fmtBytes(s.bytes), fmtNum(s.kernel_drops || 0)])),
      h('p', { class: 'meta', text: t('dash.hosts', st.hosts) + ' · ' + Object.entries(st.events || {}).map(([k, v]) => k + ' ' + fmtNum(v)).join(' · ') }));
    const xs = tr.series.map((p) => new Date(p.t) / 1000), ys = tr.series.map((p) => p.bytes), fs = tr.series.map((p) => p.flows);
    if (window.uPlot && xs.length) {
      const w = Math.max(300, chart.clientWidth - 10);
      if (!plot) {
        clear(chart);
        plot = new uPlot({
          width: w, height: 220, scales: { x: { time: true } },
          series: [{}, { label: t('bytes'), stroke: '#c0392b', fill: 'rgba(192,57,43,0.15)', value: (u, v) => v == null ? '' : fmtBytes(v) },
            { label: t('flows'), stroke: '#2c3e50', scale: 'n' }],
          axes: [{}, { values: (u, vs) => vs.map(fmtBytes), size: 70 }, { scale: 'n', side: 1 }],
        }, [xs, ys, fs], chart);
      } else {
        plot.setData([xs, ys, fs]);
      }
    } else if (!xs.length) {
      clear(chart).append(h('p', { class: 'empty', text: t('dash.noflows') }));
    }
    chart.dataset.flows = tr.flows;
    clear(talkers).append(table([t('ip'), t('bytes'), t('packets'), t('flows')],
      tr.top_talkers.map((x) => [x.ip, fmtBytes(x.bytes), fmtNum(x.packets), fmtNum(x.flows)])));
    const totalFlows = tr.protocols.reduce((a, p) => a + p.flows, 0) || 1;
    clear(protos).append(table([t('proto'), t('flows'), t('bytes'), ''],
      tr.protocols.map((p) => {
        const bar = h('span', { class: 'bar' });
        bar.style.width = Math.max(1, Math.round(100 * p.flows / totalFlows)) + 'px';
        return [p.proto, fmtNum(p.flows), fmtBytes(p.bytes), bar];
      })));
    clear(alerts).append(table([t('time'), t('severity'), t('signature'), t('src'), t('dst')],
      al.map((a) => [fmtTime(a.timestamp), a.alert ? String(a.alert.severity) : '', a.alert ? a.alert.signature : '',
        (a.src_ip || '') + ':' + (a.src_port || ''), (a.dest_ip || '') + ':' + (a.dest_port || '')]), t('dash.noalerts')));
  };
  await S.poll();
};

pages.case = async (main) => {
  if (needCase(main)) return;
  const c = await api('GET', '/cases/' + encodeURIComponent(S.caseId));
  const id = encodeURIComponent(c.id);
  const cmd = (name, body) => run(async () => { await api('POST', '/cases/' + id + '/' + name, body); route(); }, t('done'));

  // Phase stepper.
  const cur = PHASES.indexOf(c.phase);
  const steps = h('ol', { class: 'stepper' }, PHASES.map((p, i) => h('li', {
    class: (i < cur ? 'past' : i === cur ? 'current' : 'future'), text: t('phase.' + p),
  })));
  const reason = h('input', { placeholder: t('reason'), class: 'wide' });
  const next = PHASES[cur + 1];
  const phaseCtl = h('div', { class: 'row' });
  if (next && c.phase !== 'closed') {
    phaseCtl.append(actButton(t('phase.advance', t('phase.' + next)), () => cmd('phase', { to: next, reason: reason.value || undefined })));
  }
  if (cur > 0 && c.phase !== 'closed') {
    phaseCtl.append(actButton(t('phase.back', t('phase.' + PHASES[cur - 1])), async () => {
      if (!reason.value) { flash(t('reason.needed'), 'error'); return; }
      if (await confirmDialog(t('phase.back', t('phase.' + PHASES[cur - 1])))) cmd('phase', { to: PHASES[cur - 1], reason: reason.value });
    }));
  }
  if (!S.readonly) phaseCtl.append(reason);

  // Classification.
  const cl = c.classification;
  const clNode = cl ? h('dl', {},
    h('dt', { text: t('class.category') }), h('dd', { text: cl.category + (cl.subcategory ? ' / ' + cl.subcategory : '') }),
    h('dt', { text: t('class.level') }), h('dd', { class: 'level', text: String(cl.level) }),
    h('dt', { text: t('class.rationale') }), h('dd', { text: label(cl.rationale) }),
    cl.override ? [h('dt', { text: t('class.override') }), h('dd', { text: cl.override.level + ' — ' + cl.override.reason })] : null)
    : h('p', { class: 'empty', text: t('class.none') });

  // SLA timers.
  const timers = table([t('sla.milestone'), t('sla.due'), t('sla.state'), t('sla.left')],
    (c.sla_timers || []).map((x) => [t('ms.' + x.milestone), fmtTime(x.due), h('span', { class: 'state-' + x.state, text: t('sla.' + x.state) }),
      x.state === 'pending' ? countdown(x.due) : (x.met_at ? fmtTime(x.met_at) : '')]));

  // Notes and tasks.
  const noteText = h('textarea', { rows: 2, class: 'wide', placeholder: t('note.text') });
  const notes = h('div', {}, (c.notes || []).slice().reverse().map((n) => h('div', { class: 'note' },
    h('div', { class: 'meta', text: fmtTime(n.at) + ' · ' + n.actor }), h('div', { text: n.text }))),
  S.readonly ? null : h('div', { class: 'row' }, noteText, actButton(t('note.add'), () => noteText.value && cmd('notes', { text: noteText.value }))));
  const taskTitle = h('input', { placeholder: t('task.title'), class: 'wide' });
  const taskWho = h('input', { placeholder: t('task.assignee') });
  const tasks = h('div', {}, table([t('task.id'), t('task.title'), t('task.assignee'), t('task.status'), ''],
    (c.tasks || []).map((k) => [String(k.id), k.title, k.assignee || '', t('task.' + k.status),
      k.status === 'open' ? actButton(t('task.markdone'), () => cmd('task', { id: k.id, status: 'done' })) : (k.done_by || '')])),
  S.readonly ? null : h('div', { class: 'row' }, taskTitle, taskWho, actButton(t('task.add'), () => taskTitle.value && cmd('tasks', { title: taskTitle.value, assignee: taskWho.value || undefined }))));

  // Timeline with filters.
  const ftype = h('input', { placeholder: t('tl.type') }), factor = h('input', { placeholder: t('tl.actor') });
  const tl = h('div');
  const entries = await api('GET', '/cases/' + id + '/journal?limit=1000');
  const renderTL = () => {
    const ft = ftype.value.toLowerCase(), fa = factor.value.toLowerCase();
    const rows = entries.filter((e) => e.type.toLowerCase().includes(ft) && e.actor.toLowerCase().includes(fa)).reverse()
      .map((e) => [String(e.seq), fmtTime(e.time), e.actor, e.type, h('code', { text: JSON.stringify(e.payload).slice(0, 200) })]);
    clear(tl).append(table([t('tl.seq'), t('time'), t('tl.actor'), t('tl.type'), t('tl.payload')], rows));
  };
  ftype.addEventListener('input', renderTL);
  factor.addEventListener('input', renderTL);
  renderTL();

  main.append(
    section(c.title + ' · ' + c.id, steps, phaseCtl),
    h('div', { class: 'cols' }, section(t('class.title'), clNode), section(t('sla.title'), timers)),
    h('div', { class: 'cols' }, section(t('notes'), notes), section(t('tasks'), tasks)),
    section(t('timeline'), h('div', { class: 'row' }, ftype, factor), tl));
};

pages.alerts = async (main) => {
  const live = h('div');
  main.append(section(t('alerts.live'), live));
  if (S.caseId) {
    const c = await api('GET', '/cases/' + encodeURIComponent(S.caseId));
    const flows = h('div', { class: 'flows' });
    const rows = (c.findings || []).map((f) => {
      const net = f.src && f.dst && f.proto;
      const ctl = h('span', { class: 'row' });
      if (net && (f.inputs || []).length) {
        ctl.append(h('button', {
          type: 'button', text: t('alerts.pcap'),
          onclick: () => run(() => download('/cases/' + encodeURIComponent(c.id) + '/findings/' + encodeURIComponent(f.id) + '/pcap', 'GET', c.id + '-' + f.id + '.pcap'), t('alerts.downloaded')),
        }));
      }
      if (net) {
        ctl.append(h('button', {
          type: 'button', text: t('alerts.flows'), onclick: async () => {
            const ev = await run(() => api('GET', '/capture/events?type=flow&limit=1000'));
            if (!ev) return;
            const mine = ev.filter((e) => (f.community_id && e.community_id === f.community_id) ||
              ((e.src_ip === f.src && e.dest_ip === f.dst) || (e.src_ip === f.dst && e.dest_ip === f.src)));
            clear(flows).append(h('h3', { text: t('alerts.flowsof', f.id) }), table([t('time'), t('proto'), t('src'), t('dst'), t('packets'), t('bytes'), 'community_id'],
              mine.slice(0, 50).map((e) => [fmtTime(e.flow && e.flow.start), e.app_proto || e.proto, e.src_ip + ':' + (e.src_port || ''), e.dest_ip + ':' + (e.dest_port || ''),
                e.flow ? fmtNum(e.flow.pkts_toserver + e.flow.pkts_toclient) : '', e.flow ? fmtBytes(e.flow.bytes_toserver + e.flow.bytes_toclient) : '', e.community_id || ''])));
          },
        }));
      }
      return [f.id, h('span', { class: 'sev sev' + f.severity, text: String(f.severity) }), f.signature, f.module, (f.techniques || []).join(' '),
        net ? f.proto + ' ' + f.src + ':' + f.src_port + ' → ' + f.dst + ':' + f.dst_port : (f.host || '') + ' ' + (f.path || ''),
        String(f.count), fmtTime(f.time), ctl];
    });
    main.prepend(section(t('alerts.findings', c.id), table(['ID', t('severity'), t('signature'), t('module'), 'ATT&CK', t('alerts.where'), t('count'), t('time'), ''], rows, t('alerts.nofindings')), flows));
  }
  S.poll = async () => {
    const al = await api('GET', '/capture/events?type=alert&limit=100');
    clear(live).append(table([t('time'), t('severity'), t('signature'), t('src'), t('dst'), 'community_id'],
      al.map((a) => [fmtTime(a.timestamp), a.alert ? String(a.alert.severity) : '', a.alert ? a.alert.signature : '',
        (a.src_ip || '') + ':' + (a.src_port || ''), (a.dest_ip || '') + ':' + (a.dest_port || ''), a.community_id || '']), t('dash.noalerts')));
  };
  await S.poll();
};

pages.hosts = async (main) => {
  const box = h('div'), unseen = h('div');
  main.append(section(t('hosts.title'), box), section(t('hosts.unseen'), unseen));
  S.poll = async () => {
    const v = await api('GET', '/capture/hosts' + (S.caseId ? '?case=' + encodeURIComponent(S.caseId) : ''));
    const hosts = Array.isArray(v) ? v.map((x) => ({ ...x, asset: undefined })) : v.hosts;
    clear(box).append(
      Array.isArray(v) ? h('p', { class: 'meta', text: t('hosts.nocase') }) : h('p', { class: 'meta', text: t('hosts.unlisted', v.unlisted_private_hosts) }),
      table([t('ip'), 'MAC', t('hosts.names'), t('hosts.services'), t('hosts.first'), t('hosts.last'), t('flows'), t('hosts.asset')],
        hosts.map((x) => [x.ip, (x.macs || []).join(' '), (x.names || []).map((n) => n.name + ' (' + n.source + ')').join(', '),
          (x.services || []).map((s) => s.proto + '/' + s.port + (s.app_proto ? ' ' + s.app_proto : '')).join(', '),
          fmtTime(x.first_seen), fmtTime(x.last_seen), fmtNum(x.flows),
          x.asset ? (x.asset.hostname || x.asset.ip || '') + (x.asset.owner ? ' · ' + x.asset.owner : '') : (x.private ? h('span', { class: 'warn', text: t('hosts.notlisted') }) : '')])));
    clear(unseen).append(Array.isArray(v) ? h('p', { class: 'empty', text: t('hosts.nocase') }) :
      table([t('ip'), t('hosts.hostname'), 'MAC', t('hosts.owner')], v.unseen_assets.map((a) => [a.ip || '', a.hostname || '', a.mac || '', a.owner || ''])));
  };
  await S.poll();
};

pages.containment = async (main) => {
  const list = h('div'), planBox = h('div');
  const ip = h('input', { placeholder: t('iso.ip'), name: 'ip' }), mac = h('input', { placeholder: 'MAC', name: 'mac' });
  const reason = h('input', { placeholder: t('reason'), class: 'wide', name: 'reason' });
  const ttl = h('input', { placeholder: t('iso.ttl'), value: '2h', size: 6, name: 'ttl' });
  const within = h('input', { placeholder: t('iso.within'), value: '10m', size: 6, name: 'confirm_within' });
  const req = () => ({ case: S.caseId, ip: ip.value || undefined, mac: mac.value || undefined, reason: reason.value,
    ttl: ttl.value || undefined, confirm_within: within.value || undefined });
  const planBtn = h('button', {
    type: 'button', text: t('iso.plan'), id: 'iso-plan', onclick: async () => {
      const p = await run(() => api('POST', '/isolations/plan', req()));
      if (!p) return;
      clear(planBox).append(
        p.refused ? h('p', { class: 'error', text: t('iso.refused') + ': ' + p.refused }) : h('p', { class: 'ok', text: t('iso.safe') }),
        h('h3', { text: t('iso.changes') }), h('ul', {}, (p.changes || []).map((x) => h('li', { text: x }))),
        h('h3', { text: t('iso.cut') }), p.flows && p.flows.length ? table([t('proto'), t('src'), t('dst')], p.flows.map((f) => [f.proto, f.src_ip + ':' + (f.src_port || ''), f.dest_ip + ':' + (f.dest_port || '')])) : h('p', { class: 'meta', text: p.flows_note || t('none') }),
        h('div', {}, (p.hints || []).map((x) => h('p', { class: 'meta', text: x }))),
        actButton(t('iso.apply'), async () => {
          if (!await confirmDialog(t('iso.applyq', (req().ip || '') + ' ' + (req().mac || '')), h('ul', {}, (p.changes || []).map((x) => h('li', { text: x }))))) return;
          const res = await run(() => api('POST', '/isolations', req()), t('iso.applied'));
          if (res) { clear(planBox); S.poll(); }
        }, 'danger'));
    },
  });
  main.append(section(t('iso.title'), list),
    section(t('iso.new'), needCaseNote(), h('div', { class: 'row' }, ip, mac, ttl, within), h('div', { class: 'row' }, reason, planBtn), planBox));
  S.poll = async () => {
    let isos;
    try { isos = await api('GET', '/isolations'); } catch (err) {
      if (err.status === 501) { clear(list).append(h('p', { class: 'notyet', text: err.message })); planBtn.disabled = true; return; }
      throw err;
    }
    clear(list).append(table(['ID', t('case'), t('iso.target'), t('reason'), t('iso.approver'), t('iso.expires'), t('iso.confirm'), ''],
      isos.map((i) => {
        const ctl = h('span', { class: 'row' });
        if (i.confirm_by && !i.confirmed) {
          ctl.append(actButton(t('iso.confirmbtn'), async () => {
            if (await confirmDialog(t('iso.confirmq', i.id))) await run(async () => { await api('POST', '/isolations/' + encodeURIComponent(i.id) + '/confirm', {}); S.poll(); }, t('iso.confirmed'));
          }));
        }
        const why = h('input', { placeholder: t('reason') });
        ctl.append(actButton(t('iso.release'), async () => {
          if (await confirmDialog(t('iso.releaseq', i.id), why)) await run(async () => { await api('POST', '/isolations/' + encodeURIComponent(i.id) + '/release', { reason: why.value || undefined }); S.poll(); }, t('iso.released'));
        }));
        return [i.id, i.case, [i.ip, i.mac, i.link].filter(Boolean).join(' '), i.reason, i.approver,
          i.expires ? countdown(i.expires) : '—',
          i.confirmed ? t('iso.isconfirmed') + (i.confirmed_by ? ' · ' + i.confirmed_by : '') : (i.confirm_by ? countdown(i.confirm_by) : '—'), ctl];
      }), t('iso.none')));
  };
  await S.poll();
};

function needCaseNote() { return S.caseId ? null : h('p', { class: 'error', text: t('case.pick') }); }

pages.modules = async (main) => {
  const box = h('div', { id: 'mod-list' }), feeds = h('div');
  // Enabling, disabling and uploading need an admin; the buttons stay
  // usable for everyone so that the API's refusal is shown, not hidden.
  const adminButton = (label, onclick, cls) => {
    const b = h('button', { type: 'button', text: label, onclick, class: cls || '' });
    if (!isAdmin()) b.title = t('mod.adminonly');
    return b;
  };
  const toggle = (m) => adminButton(m.enabled ? t('mod.disable') : t('mod.enable'), async () => {
    const cmd = m.enabled ? 'disable' : 'enable';
    if (!await confirmDialog(t('mod.' + cmd + 'q', m.name))) return;
    await run(async () => { await api('POST', '/modules/' + encodeURIComponent(m.name) + '/' + cmd, {}); await S.poll(); },
      t(m.enabled ? 'mod.disabled' : 'mod.enabled', m.name));
  });

  // Upload: the three files of a module directory, sent as base64.
  const wasm = h('input', { type: 'file', accept: '.wasm', name: 'wasm' });
  const manifest = h('input', { type: 'file', accept: '.json', name: 'manifest' });
  const signature = h('input', { type: 'file', accept: '.json', name: 'signature' });
  const unsigned = h('input', { type: 'checkbox', name: 'allow_unsigned', id: 'mod-unsigned' });
  const warn = h('p', { class: 'warn', text: t('mod.unsignedwarn') });
  const field = (text, input) => h('label', { class: 'field' }, h('span', { text }), input);
  const upload = adminButton(t('mod.install'), async () => {
    if (!wasm.files[0] || !manifest.files[0]) { flash(t('mod.needfiles'), 'error'); return; }
    if (!signature.files[0] && !unsigned.checked) { flash(t('mod.needsig'), 'error'); return; }
    const q = t('mod.installq', manifest.files[0].name + ' + ' + wasm.files[0].name);
    if (!await confirmDialog(q, unsigned.checked ? h('p', { class: 'warn', text: t('mod.unsignedwarn') }) : null)) return;
    const res = await run(async () => {
      const body = { manifest: await readBase64(manifest.files[0]), wasm: await readBase64(wasm.files[0]) };
      if (signature.files[0]) body.signature = await readBase64(signature.files[0]);
      if (unsigned.checked) body.allow_unsigned = true;
      return api('POST', '/modules', body);
    });
    if (res) { flash(t('mod.installed', res.name, res.version), 'ok'); await S.poll(); }
  }, 'danger');
  upload.id = 'mod-install';

  main.append(section(t('mod.title'), box),
    section(t('mod.upload'),
      h('div', { class: 'row' }, field('module.wasm', wasm), field('manifest.json', manifest), field('signature.json', signature)),
      h('div', { class: 'row' }, h('label', { for: 'mod-unsigned' }, unsigned, ' ', t('mod.allowunsigned'))), warn,
      h('div', { class: 'row' }, upload)),
    section(t('mod.feeds'), feeds));
  warn.hidden = true;
  unsigned.addEventListener('change', () => { warn.hidden = !unsigned.checked; });
  S.poll = async () => {
    const [mods, fl] = await Promise.all([api('GET', '/modules'), api('GET', '/modules/feeds')]);
    clear(box).append(table([t('mod.name'), t('mod.version'), t('mod.kind'), t('mod.source'), t('mod.subs'), 'ATT&CK', t('mod.signer'), 'SHA-256', t('mod.health'), t('mod.state'), ''],
      mods.map((m) => {
        // A refused module never runs: there is nothing to switch.
        const b = m.refused ? null : toggle(m);
        if (b) b.dataset.module = m.name;
        return [m.name, m.version, m.kind, t('mod.src.' + m.source), (m.subscriptions || []).join(', '), (m.techniques || []).join(' '),
          m.unsigned ? h('span', { class: 'warn', text: t('mod.unsigned') }) : (m.signer || ''),
          h('code', { text: (m.sha256 || '').slice(0, 16), title: m.sha256 || '' }),
          health(m.health),
          m.refused ? h('span', { class: 'error', text: t('mod.refused') + ': ' + m.refused })
            : h('span', { class: m.enabled ? 'ok' : 'warn', text: m.enabled ? t('mod.on') : t('mod.off') }),
          b];
      })));
    clear(feeds).append(table([t('mod.feed'), t('mod.indicators'), t('bytes'), t('mod.signer'), 'SHA-256', t('mod.installedat')],
      (fl || []).map((f) => [f.name, fmtNum(f.indicators), fmtBytes(f.size), f.signer || '', h('code', { text: (f.sha256 || '').slice(0, 16), title: f.sha256 || '' }),
        fmtTime(f.installed_at) + (f.from ? ' · ' + f.from : '')]), t('mod.nofeeds')));
  };
  await S.poll();
};

// health is what a module did on the traffic since the daemon started.
function health(x) {
  if (!x) return h('span', { class: 'meta', text: '—' });
  const text = t('mod.healthline', fmtNum(x.events), fmtNum(x.alerts), fmtNum(x.faults), x.time_ms.toFixed(1));
  return h('span', { class: x.faults ? 'warn' : '', text, title: x.last_fault || '' });
}

// readBase64 reads a file the engineer chose as base64 (without the data:
// URL prefix).
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => { const u = String(r.result); resolve(u.slice(u.indexOf(',') + 1)); };
    r.onerror = () => reject(r.error || new Error(file.name));
    r.readAsDataURL(file);
  });
}

const shortHash = (x) => x ? h('code', { text: x.slice(0, 12), title: x }) : h('span', { class: 'meta', text: t('triage.absent') });

pages.triage = async (main) => {
  if (needCase(main)) return;
  const id = encodeURIComponent(S.caseId);
  const cols = h('div'), plans = h('div');
  main.append(section(t('triage.collections'), cols), h('div', { id: 'triage-plans' }, plans));
  const step = (s, action, q) => async () => {
    if (!await confirmDialog(q, h('ul', {}, h('li', { text: s.type + ' ' + s.target }), s.detail ? h('li', { text: s.detail }) : null))) return;
    await run(async () => {
      await api('POST', '/cases/' + id + '/triage/steps/' + encodeURIComponent(s.id) + '/' + action, {});
      await S.poll();
    }, t('triage.did.' + action, s.id));
  };
  const button = (s, action, q, cls) => {
    const b = actButton(t('triage.' + action), step(s, action, q), cls);
    if (S.readonly) return b;
    b.dataset.step = s.id;
    b.dataset.action = action;
    return b;
  };
  S.poll = async () => {
    const st = await api('GET', '/cases/' + id + '/triage');
    clear(cols).append(table([t('triage.target'), t('src.kind'), t('triage.complete'), t('time')],
      (st.collections || []).map((c) => [c.target, c.kind, c.complete ? t('triage.yes') : t('triage.no'), fmtTime(c.at)]), t('triage.nocollections')));
    const ps = (st.plans || []).slice().reverse();
    clear(plans).append(...(ps.length ? ps.map((p) => section(t('triage.plan', p.target, fmtTime(p.at), p.by),
      table(['ID', t('triage.action'), t('triage.file'), t('triage.detail'), t('reason'), t('triage.answers'), t('triage.state'), t('triage.hashes'), ''],
        (p.steps || []).map((s) => {
          const ctl = h('span', { class: 'row' });
          if (s.status === 'refused') {
            const b = button(s, 'approve', '');
            b.disabled = true;
            b.title = t('triage.refusedcannot');
            ctl.append(b);
          }
          if (s.status === 'proposed' || s.status === 'undone') ctl.append(button(s, 'approve', t('triage.approveq', s.id)));
          if (s.status === 'approved') ctl.append(button(s, 'apply', t('triage.applyq', s.id, s.target), 'danger'));
          if (s.status === 'applied' || s.status === 'failed') ctl.append(button(s, 'undo', t('triage.undoq', s.id, s.target)));
          const state = h('div', {}, h('span', { class: 'status status-' + s.status, text: t('triage.s.' + s.status) }));
          if (s.refused) state.append(h('div', { class: 'error', text: s.refused }));
          if (s.error) state.append(h('div', { class: 'error', text: s.error }));
          if (s.approved_by) state.append(h('div', { class: 'meta', text: t('triage.approvedby', s.approved_by) }));
          state.append(h('div', { class: 'meta', text: fmtTime(s.updated_at) }));
          const hashes = h('div', {}, (s.changes || []).map((c) => h('div', { class: 'hash' },
            h('span', { text: c.path + ' ' }), shortHash(c.before), ' → ', shortHash(c.after))));
          return [s.id, h('span', {}, h('strong', { text: s.type }), h('div', { class: 'meta', text: s.module })), h('code', { text: s.target }),
            s.detail ? h('code', { text: s.detail }) : '', s.reason || '', (s.answers || []).join(' '), state, hashes, ctl];
        }), t('triage.nosteps')))) : [h('section', { class: 'card' }, h('p', { class: 'empty', text: t('triage.noplans') }))]));
  };
  await S.poll();
};

pages.evidence = async (main) => {
  if (needCase(main)) return;
  const c = await api('GET', '/cases/' + encodeURIComponent(S.caseId));
  const total = (c.evidence || []).reduce((a, e) => a + (e.size || 0), 0);
  const bar = h('progress', { max: 100, value: 0, id: 'export-progress' });
  const status = h('span', { class: 'meta', id: 'export-status' });
  const btn = actButton(t('ev.export'), async () => {
    if (!await confirmDialog(t('ev.exportq', c.id))) return;
    btn.disabled = true;
    status.textContent = t('ev.exporting');
    const got = await run(() => download('/cases/' + encodeURIComponent(c.id) + '/export', 'POST', c.id + '-evidence.tar', (n) => {
      bar.value = Math.min(99, Math.round(100 * n / Math.max(total, 1)));
      status.textContent = fmtBytes(n);
    }, total));
    btn.disabled = false;
    if (got) { bar.value = 100; status.textContent = t('ev.exported', fmtBytes(got)); }
  });
  main.append(section(t('ev.title', c.id), table([t('ev.exhibit'), t('ev.category'), t('ev.format'), t('ev.name'), 'SHA-256', t('bytes'), t('ev.collected')],
    (c.evidence || []).map((e) => [e.exhibit || '', e.category, e.format, (e.source && e.source.path) || e.description || '', h('code', { text: e.sha256 }),
      fmtBytes(e.size), fmtTime(e.collected_at) + ' · ' + (e.collected_by || '')]), t('ev.none'))),
  S.readonly ? document.createDocumentFragment() : section(t('ev.exporttitle'), h('div', { class: 'row' }, btn, bar, status)));
};

pages.sync = async (main) => {
  const box = h('div');
  main.append(section(t('sync.title'), box));
  S.poll = async () => {
    let s;
    try { s = await api('GET', '/sync'); } catch (err) {
      if (err.status === 501) { clear(box).append(h('p', { class: 'notyet', text: err.message })); return; }
      throw err;
    }
    const backlog = (s.journals || []).reduce((a, j) => a + Math.max(0, j.local - j.acked), 0);
    clear(box).append(h('dl', {},
      h('dt', { text: t('sync.hq') }), h('dd', { text: s.endpoint + ' / ' + s.bucket }),
      h('dt', { text: t('sync.state') }), h('dd', { text: t('sync.s.' + s.state) + (s.paused ? ' (' + t('sync.paused') + ')' : '') }),
      h('dt', { text: t('sync.last') }), h('dd', { text: fmtTime(s.last_success) }),
      h('dt', { text: t('sync.backlog') }), h('dd', { text: t('sync.entries', fmtNum(backlog)) }),
      h('dt', { text: t('sync.sent') }), h('dd', { text: fmtBytes(s.bytes_sent) }),
      s.last_error ? [h('dt', { text: t('error') }), h('dd', { class: 'error', text: s.last_error })] : null),
    h('div', { class: 'row' },
      actButton(t('sync.now'), () => run(() => api('POST', '/sync/now', {}), t('done'))),
      actButton(s.paused ? t('sync.resume') : t('sync.pause'), () => run(async () => { await api('POST', '/sync/' + (s.paused ? 'resume' : 'pause'), {}); S.poll(); }, t('done')))),
    table([t('sync.journal'), t('sync.local'), t('sync.acked')], (s.journals || []).map((j) => [j.journal, String(j.local), String(j.acked)])));
  };
  await S.poll();
};

pages.report = async (main) => {
  if (needCase(main)) return;
  const id = encodeURIComponent(S.caseId);
  const lang = h('select', {}, h('option', { value: 'zh', text: '中文' }), h('option', { value: 'en', text: 'English' }));
  lang.value = S.lang.startsWith('zh') ? 'zh' : 'en';
  const frame = h('iframe', { class: 'report', title: t('report.preview') });
  frame.setAttribute('sandbox', '');
  const show = () => { frame.src = ROOT + '/api/v1/cases/' + id + '/report?lang=' + lang.value; };
  lang.addEventListener('change', show);
  show();
  main.append(section(t('report.title', S.caseId), h('div', { class: 'row' }, lang,
    h('button', { type: 'button', text: t('report.download'), onclick: () => run(() => download('/cases/' + id + '/report?lang=' + lang.value, 'GET', S.caseId + '-report-' + lang.value + '.html'), t('done')) })), frame));
};

// ---- frame ----

async function loadDict(lang) {
  const r = await fetch('/assets/i18n/' + lang + '.json', { credentials: 'same-origin' });
  S.dict = r.ok ? await r.json() : {};
  document.documentElement.lang = lang;
}

function renderFrame() {
  const nav = clear($('nav'));
  const cur = currentPage();
  for (const p of PAGES) nav.append(h('a', { href: '#/' + p, text: t('page.' + p), class: p === cur ? 'active' : '' }));
  clear($('who')).append(h('span', { text: S.session.name }), ' ', h('span', { class: 'role', text: t('role.' + S.session.role) }));
  $('logout').textContent = t('logout');
  $('lang').value = S.lang;
}

async function renderCaseBar() {
  try { S.cases = await api('GET', '/cases'); } catch (err) { failed(err); return; }
  // Cleared only now: two renders in flight must not both append.
  const bar = clear($('casebar'));
  if (S.caseId && !S.cases.some((c) => c.id === S.caseId)) S.caseId = '';
  const sel = h('select', { id: 'case-select', onchange: (e) => { S.caseId = e.target.value; localStorage.setItem('caseId', S.caseId); route(); } },
    h('option', { value: '', text: t('case.choose') }),
    S.cases.map((c) => h('option', { value: c.id, text: c.id + ' · ' + c.title })));
  sel.value = S.caseId;
  const title = h('input', { placeholder: t('case.newtitle'), id: 'case-title' });
  if (S.readonly) { bar.append(h('label', { text: t('case') + ' ' }), sel); return; }
  bar.append(h('label', { text: t('case') + ' ' }), sel, title,
    actButton(t('case.open'), async () => {
      if (!title.value) return;
      const c = await run(() => api('POST', '/cases', { title: title.value }), t('done'));
      if (c) { S.caseId = c.id; localStorage.setItem('caseId', c.id); renderCaseBar(); route(); }
    }));
}

function currentPage() {
  const p = (location.hash.match(/^#\/(\w+)/) || [])[1];
  return PAGES.includes(p) ? p : PAGES[0];
}

let routeGen = 0;
async function route() {
  const gen = ++routeGen;
  S.poll = null;
  if (gen > 1) flash('');
  renderFrame();
  const page = currentPage();
  const main = clear($('main'));
  delete main.dataset.ready;
  main.dataset.page = page;
  main.append(h('h1', { text: t('page.' + page) }));
  try {
    await pages[page](main);
  } catch (err) {
    if (gen === routeGen) failed(err);
  }
  if (gen === routeGen) main.dataset.ready = '1';
}

async function start() {
  const r = await fetch(ROOT + '/console/session', { credentials: 'same-origin' });
  if (!r.ok) { location.href = ROOT + '/login'; return; }
  const pick = new URLSearchParams(location.search).get('case');
  if (pick) S.caseId = pick;
  S.session = await r.json();
  await loadDict(S.lang);
  $('lang').addEventListener('change', async (e) => {
    S.lang = e.target.value;
    localStorage.setItem('lang', S.lang);
    await loadDict(S.lang);
    renderCaseBar();
    route();
  });
  $('logout').hidden = S.readonly;
  $('logout').addEventListener('click', async () => {
    await fetch(ROOT + '/console/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': S.session.csrf } });
    location.href = ROOT + '/login';
  });
  window.addEventListener('hashchange', route);
  // Live updates: the current page's poll function runs every few seconds.
  S.pollTimer = setInterval(async () => {
    if (S.poll && !document.hidden) {
      try { await S.poll(); } catch (err) { failed(err); }
    }
  }, 3000);
  await renderCaseBar();
  await route();
}

start();
