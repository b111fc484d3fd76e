// Rule studio: the page's script. Plain JavaScript, no libraries, nothing loaded from
// elsewhere. Talks to the studio API under api/ (relative to the page) with JSON; every
// diagnostic comes from the server's checker, never from this script.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  const HOOKS = [
    'patient-view', 'order-select', 'order-sign', 'appointment-book',
    'encounter-start', 'encounter-discharge', 'order-dispatch', 'device-observation',
  ];
  const TOKEN_KEY = 'cds-studio-token';
  const CHECK_DELAY_MS = 250;

  const el = {
    rulesetSelect: $('ruleset-select'), dirty: $('dirty'), status: $('status'),
    formatBtn: $('format-btn'), saveBtn: $('save-btn'),
    notice: $('notice'), noticeText: $('notice-text'), noticeClose: $('notice-close'),
    rulesetTitle: $('ruleset-title'), rulesetFile: $('ruleset-file'), cursorPos: $('cursor-pos'),
    editor: $('editor'), highlight: $('highlight'), gutter: $('gutter-inner'),
    codeArea: $('code-area'), bubble: $('bubble'), measure: $('measure'),
    diagnostics: $('diagnostics'), problemsCount: $('problems-count'),
    patientSelect: $('patient-select'), atInput: $('at-input'), hookSelect: $('hook-select'),
    tryBtn: $('try-btn'), tryResult: $('try-result'),
    runTestsBtn: $('run-tests-btn'), testsSummary: $('tests-summary'), testsResult: $('tests-result'),
    cohortSelect: $('cohort-select'), backtestAt: $('backtest-at'), backtestBtn: $('backtest-btn'),
    backtestMode: $('backtest-mode'), backtestFrom: $('backtest-from'), backtestTo: $('backtest-to'),
    backtestEvery: $('backtest-every'), backtestHook: $('backtest-hook'),
    backtestSummary: $('backtest-summary'), backtestReport: $('backtest-report'),
    graphBtn: $('graph-btn'), graphView: $('graph-view'), graphStats: $('graph-stats'),
    zoomIn: $('zoom-in'), zoomOut: $('zoom-out'), zoomFit: $('zoom-fit'), zoomLevel: $('zoom-level'),
    tokenDialog: $('token-dialog'), tokenInput: $('token-input'), tokenSave: $('token-save'),
    tokenCancel: $('token-cancel'), tokenError: $('token-error'),
  };

  const state = {
    rulesets: [],
    file: null,
    info: null,
    savedText: '',
    etag: null,
    testCount: 0,
    backupCount: 0,
    prevText: '',
    diagnostics: [],
    errors: 0,
    warnings: 0,
    checked: false,
    checkSeq: 0,
    checkTimer: 0,
    samples: { patients: [], cohorts: [] },
    lastTry: null,
    graphText: null,
    graphSize: null,
    zoom: 1,
    token: null,
    metrics: { charWidth: 7.8, lineHeight: 20, padX: 12, padY: 10 },
    activeTab: 'try',
    openSeq: 0,
  };
  try { state.token = sessionStorage.getItem(TOKEN_KEY); } catch (_) { state.token = null; }

  // ---------------------------------------------------------------- helpers

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => (
      { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  /** Creates an element: h('div', {class: 'x'}, child, 'text', ...). */
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function plural(n, one, many) { return `${n} ${n === 1 ? one : (many || one + 's')}`; }

  function folderOf(file) {
    const i = file.lastIndexOf('/');
    return i < 0 ? '' : file.slice(0, i);
  }

  function setBusy(button, busy) {
    button.classList.toggle('busy', busy);
    button.disabled = busy;
    button.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  let noticeTimer = 0;
  function showNotice(text, kind) {
    clearTimeout(noticeTimer);
    el.noticeText.textContent = text;
    el.notice.className = 'notice' + (kind ? ' ' + kind : '');
    el.notice.hidden = false;
    if (kind === 'ok') noticeTimer = setTimeout(hideNotice, 8000);
  }
  function hideNotice() { el.notice.hidden = true; }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message, data) {
      super(message);
      this.status = status;
      this.data = data;
    }
  }

  function outcomeMessage(data) {
    if (data && Array.isArray(data.issue) && data.issue.length) {
      return data.issue[0].diagnostics || data.issue[0].code || null;
    }
    if (data && typeof data.message === 'string') return data.message;
    return null;
  }

  async function readJson(res) {
    const text = await res.text();
    if (!text) return null;
    try { return JSON.parse(text); } catch (_) { return { message: text.slice(0, 300) }; }
  }

  let tokenPromise = null;

  /** Asks for a bearer token once for all waiting calls; resolves to the token or null. */
  function askToken(error) {
    if (tokenPromise) return tokenPromise;
    tokenPromise = new Promise((resolve) => {
      const d = el.tokenDialog;
      el.tokenError.hidden = !error;
      el.tokenError.textContent = error || '';
      el.tokenInput.value = '';
      const finish = (token) => {
        el.tokenSave.removeEventListener('click', onSave);
        el.tokenCancel.removeEventListener('click', onCancel);
        el.tokenInput.removeEventListener('keydown', onKey);
        d.removeEventListener('cancel', onEscape);
        if (d.open) d.close();
        tokenPromise = null;
        if (token) {
          state.token = token;
          try { sessionStorage.setItem(TOKEN_KEY, token); } catch (_) { /* private mode */ }
        }
        resolve(token);
      };
      const onSave = () => {
        const t = el.tokenInput.value.trim().replace(/^bearer\s+/i, '');
        if (t) finish(t); else el.tokenInput.focus();
      };
      const onCancel = () => finish(null);
      const onKey = (e) => { if (e.key === 'Enter') { e.preventDefault(); onSave(); } };
      const onEscape = (e) => { e.preventDefault(); finish(null); };
      el.tokenSave.addEventListener('click', onSave);
      el.tokenCancel.addEventListener('click', onCancel);
      el.tokenInput.addEventListener('keydown', onKey);
      d.addEventListener('cancel', onEscape);
      if (typeof d.showModal === 'function') d.showModal(); else d.setAttribute('open', '');
      el.tokenInput.focus();
    });
    return tokenPromise;
  }

  /** Calls the studio API; on 401/403 asks for a token and retries. */
  async function api(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (state.token) headers.Authorization = 'Bearer ' + state.token;
      let res;
      try {
        res = await fetch('api/' + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          cache: 'no-store',
          credentials: 'same-origin',
        });
      } catch (e) {
        throw new ApiError(0, 'The server cannot be reached.', null);
      }
      const data = await readJson(res);
      if ((res.status === 401 || res.status === 403) && attempt < 5) {
        const why = state.token ? (outcomeMessage(data) || 'The token was refused.') : null;
        if (state.token) {
          state.token = null;
          try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* ignore */ }
        }
        const token = await askToken(why);
        if (!token) throw new ApiError(res.status, 'Not signed in: the studio needs an admin token.', data);
        continue;
      }
      if (!res.ok) {
        throw new ApiError(res.status, outcomeMessage(data) || `The server answered ${res.status}.`, data);
      }
      return data;
    }
  }

  /** The diagnostics a 422 carries, when it carries some. */
  function diagnosticsOf(err) {
    return err && err.status === 422 && err.data && Array.isArray(err.data.diagnostics)
      ? err.data.diagnostics : null;
  }

  // ---------------------------------------------------------------- tokenizer

  const STRUCT = new Set([
    'ruleset', 'version', 'answers', 'define', 'score', 'using', 'rhai', 'rule', 'when', 'then',
    'detail', 'source', 'link', 'icon', 'suggest', 'override', 'reason', 'system', 'action',
    'create', 'update', 'delete', 'case', 'otherwise', 'end', 'bands',
  ]);
  const OP_WORDS = new Set([
    'and', 'or', 'not', 'is', 'present', 'absent', 'between', 'in', 'of', 'to', 'rounded',
    'decimal', 'decimals',
  ]);
  const QUERY_WORDS = new Set([
    'latest', 'earliest', 'all', 'observation', 'observations', 'within', 'count', 'min', 'max',
    'average', 'sum', 'change', 'rise', 'fall', 'active', 'condition', 'medication', 'ordered',
    'age', 'fhirpath', 'code', 'valueset', 'loinc', 'snomed', 'rxnorm', 'icd10',
  ]);
  const CODE_SYSTEMS = new Set(['loinc', 'snomed', 'rxnorm', 'icd10']);
  const TIME_UNITS = new Set([
    'minute', 'minutes', 'hour', 'hours', 'day', 'days', 'week', 'weeks', 'month', 'months',
    'year', 'years',
  ]);
  const INDICATORS = new Set(['info', 'warning', 'critical']);

  const RE_WORD = /[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*/y;
  const RE_ID = /[A-Za-z0-9](?:[A-Za-z0-9_.]|-(?=[A-Za-z0-9]))*/y;
  const RE_CODE = /[A-Za-z0-9.-]+/y;
  const RE_VERSION = /[0-9][0-9A-Za-z.-]*/y;
  const RE_NUM = /[0-9]+(?:\.[0-9]+)?/y;
  const RE_OP = />=|<=|!=|->|→|=|>|<|\+|-|\*|\/|\(|\)|,/y;

  function matchAt(re, text, i) {
    re.lastIndex = i;
    const m = re.exec(text);
    return m ? m[0].length : 0;
  }

  /**
   * Splits the text into highlighted tokens: [{s, e, c}] with s/e string indices and c a
   * CSS class. Whitespace and unknown characters get no token.
   */
  function tokenize(text) {
    const toks = [];
    const n = text.length;
    let i = 0;
    let prevWord = '';       // the last word (keyword context)
    let prevKind = '';       // 'word' | 'num' | 'op' | 'str'
    let inAnswers = false;
    const push = (s, e, c) => { if (e > s) toks.push({ s, e, c }); };

    while (i < n) {
      const ch = text[i];
      if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') { i++; continue; }

      // comments
      if (ch === '#' || (ch === '/' && text[i + 1] === '/')) {
        let e = text.indexOf('\n', i);
        if (e < 0) e = n;
        push(i, e, 't-comment');
        i = e;
        continue;
      }
      // """ verbatim strings """
      if (text.startsWith('"""', i)) {
        let e = text.indexOf('"""', i + 3);
        e = e < 0 ? n : e + 3;
        push(i, e, 't-tstr');
        i = e;
        prevKind = 'str';
        continue;
      }
      // "strings" with {name} placeholders
      if (ch === '"') {
        let j = i + 1;
        let run = i;
        while (j < n && text[j] !== '"' && text[j] !== '\n') {
          if (text[j] === '\\' && j + 1 < n && text[j + 1] !== '\n') { j += 2; continue; }
          if (text[j] === '{') {
            const close = text.indexOf('}', j);
            const nl = text.indexOf('\n', j);
            const q = text.indexOf('"', j);
            if (close > j && (nl < 0 || close < nl) && (q < 0 || close < q)) {
              push(run, j, 't-str');
              push(j, close + 1, 't-interp');
              j = close + 1;
              run = j;
              continue;
            }
          }
          j++;
        }
        if (j < n && text[j] === '"') j++;
        push(run, j, 't-str');
        i = j;
        prevKind = 'str';
        continue;
      }
      // 'units'
      if (ch === "'") {
        let j = i + 1;
        while (j < n && text[j] !== "'" && text[j] !== '\n') j++;
        if (j < n && text[j] === "'") j++;
        push(i, j, 't-unit');
        i = j;
        prevKind = 'unit';
        continue;
      }
      // the version after `version`, the code after a code system, the id after `rule`
      if (prevKind === 'word' && prevWord === 'version') {
        const len = matchAt(RE_VERSION, text, i);
        if (len) { push(i, i + len, 't-version'); i += len; prevKind = 'num'; prevWord = ''; continue; }
      }
      if (prevKind === 'word' && CODE_SYSTEMS.has(prevWord)) {
        const len = matchAt(RE_CODE, text, i);
        if (len) { push(i, i + len, 't-code'); i += len; prevKind = 'code'; prevWord = ''; continue; }
      }
      if (prevKind === 'word' && prevWord === 'rule') {
        const len = matchAt(RE_ID, text, i);
        if (len) { push(i, i + len, 't-rule-id'); i += len; prevKind = 'id'; prevWord = ''; continue; }
      }
      if (ch >= '0' && ch <= '9') {
        const len = matchAt(RE_NUM, text, i);
        push(i, i + len, 't-num');
        i += len;
        prevKind = 'num';
        continue;
      }
      const wlen = matchAt(RE_WORD, text, i);
      if (wlen) {
        const w = text.slice(i, i + wlen);
        let c = 't-name';
        if (prevKind === 'word' && (prevWord === 'define' || prevWord === 'score')) c = 't-def-name';
        else if (prevKind === 'word' && prevWord === 'ruleset') c = 't-ruleset-name';
        else if (inAnswers && (prevWord === 'answers' || prevKind === 'comma')) c = 't-hook';
        else if (prevKind === 'word' && prevWord === 'then' && INDICATORS.has(w)) c = 't-indicator-' + w;
        else if (prevKind === 'num' && TIME_UNITS.has(w)) c = 't-time';
        else if (w === 'true' || w === 'false') c = 't-bool';
        else if (STRUCT.has(w)) c = 't-kw';
        else if (OP_WORDS.has(w)) c = 't-op-word';
        else if (QUERY_WORDS.has(w)) c = 't-query';
        if (w === 'answers') inAnswers = true;
        else if (c !== 't-hook') inAnswers = false;
        push(i, i + wlen, c);
        i += wlen;
        prevWord = w;
        prevKind = 'word';
        continue;
      }
      const olen = matchAt(RE_OP, text, i);
      if (olen) {
        push(i, i + olen, 't-op');
        prevKind = text[i] === ',' ? 'comma' : 'op';
        i += olen;
        continue;
      }
      i++;
    }
    return toks;
  }

  // ---------------------------------------------------------------- highlight layer

  function measureFont() {
    const probe = 'x'.repeat(200);
    el.measure.textContent = probe;
    const w = el.measure.getBoundingClientRect().width / probe.length;
    const cs = getComputedStyle(el.highlight);
    state.metrics = {
      charWidth: w || 7.8,
      lineHeight: parseFloat(cs.lineHeight) || 20,
      padX: parseFloat(cs.paddingLeft) || 0,
      padY: parseFloat(cs.paddingTop) || 0,
    };
  }

  /** The ranges to underline, clipped to the text; empty ones (or only a line break) as points. */
  function markRanges(text) {
    const n = text.length;
    return state.diagnostics.map((d) => {
      let from = Math.max(0, Math.min(n, d.from | 0));
      let to = Math.max(from, Math.min(n, d.to | 0));
      const slice = text.slice(from, to);
      const empty = to === from || /^[\r\n]+$/.test(slice);
      if (empty) to = from;
      return { from, to, cls: d.severity === 'error' ? 'error' : 'warning', empty };
    });
  }

  function renderHighlight() {
    const text = el.editor.value;
    const toks = tokenize(text);
    const marks = markRanges(text);
    const cuts = new Set([0, text.length]);
    for (const t of toks) { cuts.add(t.s); cuts.add(t.e); }
    for (const m of marks) { cuts.add(m.from); cuts.add(m.to); }
    const points = [...cuts].sort((a, b) => a - b);
    const empties = new Map();
    for (const m of marks) {
      if (!m.empty) continue;
      const prev = empties.get(m.from);
      empties.set(m.from, prev === 'error' ? 'error' : m.cls);
    }
    const out = [];
    const emptyAt = (p) => {
      const cls = empties.get(p);
      if (cls) out.push(`<mark class="squiggle ${cls} empty"></mark>`);
    };
    let ti = 0;
    for (let k = 0; k < points.length - 1; k++) {
      const a = points[k];
      const b = points[k + 1];
      emptyAt(a);
      while (ti < toks.length && toks[ti].e <= a) ti++;
      const tok = ti < toks.length && toks[ti].s <= a ? toks[ti] : null;
      let seg = esc(text.slice(a, b));
      if (tok) seg = `<span class="${tok.c}">${seg}</span>`;
      let sev = null;
      for (const m of marks) {
        if (!m.empty && m.from <= a && b <= m.to) {
          if (m.cls === 'error') { sev = 'error'; break; }
          sev = 'warning';
        }
      }
      if (sev) seg = `<mark class="squiggle ${sev}">${seg}</mark>`;
      out.push(seg);
    }
    emptyAt(text.length);
    // A last line break needs a line after it to have height.
    out.push('\n ');
    el.highlight.innerHTML = out.join('');
    renderGutter(text);
    syncScroll();
  }

  function lineOf(text, offset) {
    let line = 0;
    let idx = -1;
    while ((idx = text.indexOf('\n', idx + 1)) >= 0 && idx < offset) line++;
    return line;
  }

  function renderGutter(text) {
    let lines = 1;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lines++;
    const sev = new Map();
    for (const d of state.diagnostics) {
      const l = lineOf(text, d.from | 0);
      if (d.severity === 'error' || !sev.has(l)) sev.set(l, d.severity);
    }
    const parts = [];
    for (let l = 0; l < lines; l++) {
      const s = sev.get(l);
      parts.push(`<span class="ln${s ? ' has-' + (s === 'error' ? 'error' : 'warning') : ''}">${l + 1}</span>`);
    }
    el.gutter.innerHTML = parts.join('');
    updateCursor();
  }

  function syncScroll() {
    const st = el.editor.scrollTop;
    const sl = el.editor.scrollLeft;
    el.highlight.style.transform = `translate(${-sl}px, ${-st}px)`;
    el.gutter.style.transform = `translateY(${-st}px)`;
    positionBubble();
  }

  /** The bubble under the first error, positioned from its offset and the font's metrics. */
  function positionBubble() {
    const text = el.editor.value;
    const first = state.diagnostics.find((d) => d.severity === 'error');
    if (!first) { el.bubble.hidden = true; return; }
    const from = Math.max(0, Math.min(text.length, first.from | 0));
    const lineStart = text.lastIndexOf('\n', from - 1) + 1;
    const line = lineOf(text, from);
    const col = from - lineStart;
    const m = state.metrics;
    const anchorX = m.padX + col * m.charWidth - el.editor.scrollLeft;
    const lineTop = m.padY + line * m.lineHeight - el.editor.scrollTop;
    el.bubble.hidden = false;
    const areaW = el.codeArea.clientWidth;
    const areaH = el.editor.clientHeight;
    const bw = el.bubble.offsetWidth;
    const bh = el.bubble.offsetHeight;
    const left = Math.max(4, Math.min(anchorX - 12, areaW - bw - 16));
    // Right under the text; above it when there is no room below.
    const above = lineTop + m.lineHeight + 6 + bh > areaH && lineTop - bh - 6 > 0;
    const top = above ? lineTop - bh - 6 : lineTop + m.lineHeight + 6;
    el.bubble.classList.toggle('above', above);
    el.bubble.style.left = `${left}px`;
    el.bubble.style.top = `${top}px`;
    el.bubble.style.setProperty('--arrow', `${Math.max(6, anchorX - left - 5)}px`);
    const visible = lineTop > -m.lineHeight && lineTop < areaH && anchorX > -4 && anchorX < areaW;
    el.bubble.style.visibility = visible ? 'visible' : 'hidden';
  }

  function renderBubble() {
    const first = state.diagnostics.find((d) => d.severity === 'error');
    el.bubble.replaceChildren();
    if (!first) { el.bubble.hidden = true; return; }
    el.bubble.append(h('div', { class: 'bubble-message', text: first.message }));
    if (first.label && first.label !== first.message) {
      el.bubble.append(h('div', { class: 'bubble-label', text: first.label }));
    }
    if (first.help) el.bubble.append(h('div', { class: 'bubble-help', text: first.help }));
    positionBubble();
  }

  function updateCursor() {
    const text = el.editor.value;
    const pos = el.editor.selectionStart;
    const lineStart = text.lastIndexOf('\n', pos - 1) + 1;
    const line = lineOf(text, pos);
    el.cursorPos.textContent = `Ln ${line + 1}, Col ${pos - lineStart + 1}`;
    const prev = el.gutter.querySelector('.ln.current');
    const cur = el.gutter.children[line];
    if (prev !== cur) {
      if (prev) prev.classList.remove('current');
      if (cur) cur.classList.add('current');
    }
  }

  // ---------------------------------------------------------------- diagnostics

  function renderDiagnostics() {
    const list = el.diagnostics;
    list.replaceChildren();
    for (const d of state.diagnostics) {
      const sev = d.severity === 'error' ? 'error' : 'warning';
      const item = h('li', { class: `diagnostic ${sev}`, tabindex: '0', title: 'Go to this place' },
        h('span', { class: 'd-icon', 'aria-label': sev, text: sev === 'error' ? '✕' : '!' }),
        h('span', { class: 'd-pos', text: `${d.line}:${d.column}` }),
        h('span', { class: 'd-message', text: ' ' + d.message }),
        d.help ? h('span', { class: 'd-help', text: d.help }) : null,
        d.code ? h('span', { class: 'd-code', text: d.code }) : null);
      item.addEventListener('click', () => goTo(d));
      item.addEventListener('keydown', (e) => { if (e.key === 'Enter') goTo(d); });
      list.append(item);
    }
    const parts = [];
    if (state.errors) parts.push(plural(state.errors, 'error'));
    if (state.warnings) parts.push(plural(state.warnings, 'warning'));
    el.problemsCount.textContent = parts.join(' · ');
  }

  function goTo(d) {
    const text = el.editor.value;
    const from = Math.max(0, Math.min(text.length, d.from | 0));
    const to = Math.max(from, Math.min(text.length, d.to | 0));
    el.editor.focus();
    el.editor.setSelectionRange(from, to);
    const m = state.metrics;
    const line = lineOf(text, from);
    const y = m.padY + line * m.lineHeight;
    const view = el.editor.clientHeight;
    if (y < el.editor.scrollTop || y + m.lineHeight > el.editor.scrollTop + view) {
      el.editor.scrollTop = Math.max(0, y - view / 3);
    }
    const lineStart = text.lastIndexOf('\n', from - 1) + 1;
    const x = m.padX + (from - lineStart) * m.charWidth;
    if (x < el.editor.scrollLeft || x > el.editor.scrollLeft + el.editor.clientWidth - 40) {
      el.editor.scrollLeft = Math.max(0, x - el.editor.clientWidth / 3);
    }
    syncScroll();
    updateCursor();
  }

  function applyDiagnostics(diags) {
    state.diagnostics = Array.isArray(diags) ? diags.slice() : [];
    state.errors = state.diagnostics.filter((d) => d.severity === 'error').length;
    state.warnings = state.diagnostics.length - state.errors;
    state.checked = true;
    renderHighlight();
    renderDiagnostics();
    renderBubble();
    refreshStatus();
  }

  /** Keeps the old underlines roughly in place while the text changes under them. */
  function shiftDiagnostics(oldText, newText) {
    if (!state.diagnostics.length) return;
    const minLen = Math.min(oldText.length, newText.length);
    let p = 0;
    while (p < minLen && oldText.charCodeAt(p) === newText.charCodeAt(p)) p++;
    let s = 0;
    while (s < minLen - p
      && oldText.charCodeAt(oldText.length - 1 - s) === newText.charCodeAt(newText.length - 1 - s)) s++;
    const oldEnd = oldText.length - s;
    const delta = newText.length - oldText.length;
    state.diagnostics = state.diagnostics.map((d) => {
      let { from, to } = d;
      if (from >= oldEnd) { from += delta; to += delta; } else if (to > p) { to = Math.max(from, to + delta); }
      return Object.assign({}, d, { from, to });
    });
  }

  function scheduleCheck(delay) {
    clearTimeout(state.checkTimer);
    state.checkTimer = setTimeout(runCheck, delay === undefined ? CHECK_DELAY_MS : delay);
  }

  async function runCheck() {
    if (!state.file) return;
    const text = el.editor.value;
    const file = state.file;
    const seq = ++state.checkSeq;
    try {
      const r = await api('POST', 'check', { file, text });
      if (seq !== state.checkSeq || file !== state.file) return; // stale
      applyDiagnostics(r.diagnostics);
    } catch (err) {
      if (seq !== state.checkSeq || file !== state.file) return;
      const diags = diagnosticsOf(err);
      if (diags) { applyDiagnostics(diags); return; }
      setStatus('check failed', 'error');
      showNotice(`Checking failed: ${err.message}`, 'error');
    }
  }

  // ---------------------------------------------------------------- status, dirty, save button

  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.className = 'status' + (kind ? ' ' + kind : '');
  }

  function isDirty() { return state.file !== null && el.editor.value !== state.savedText; }

  function refreshStatus() {
    const dirty = isDirty();
    el.dirty.hidden = !dirty;
    document.title = (dirty ? '● ' : '') + (state.info ? state.info.name + ' — ' : '') + 'Rule studio';
    if (state.errors) {
      const w = state.warnings ? ', ' + plural(state.warnings, 'warning') : '';
      setStatus(plural(state.errors, 'error') + w, 'error');
    } else if (!state.checked) {
      setStatus('checking…', '');
    } else if (state.warnings) {
      setStatus(plural(state.warnings, 'warning'), 'warning');
    } else {
      setStatus(dirty ? 'no problems' : 'saved', 'ok');
    }
    el.saveBtn.disabled = !state.file || state.errors > 0 || !dirty;
    el.saveBtn.title = state.errors > 0 ? 'Fix the errors to save' : (dirty ? 'Save (Ctrl+S)' : 'Nothing to save');
  }

  // ---------------------------------------------------------------- editor behaviour

  function insertText(str) {
    el.editor.focus();
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    if (!document.execCommand('insertText', false, str)) {
      const { selectionStart: s, selectionEnd: e } = el.editor;
      el.editor.setRangeText(str, s, e, 'end');
      el.editor.dispatchEvent(new Event('input', { bubbles: true }));
    }
    ensureCaretVisible();
  }

  /** Scrolls the editor so that the caret is in view (insertText does not always). */
  function ensureCaretVisible() {
    const ta = el.editor;
    const text = ta.value;
    const pos = ta.selectionEnd;
    const m = state.metrics;
    const lineStart = text.lastIndexOf('\n', pos - 1) + 1;
    const y = m.padY + lineOf(text, pos) * m.lineHeight;
    const x = m.padX + (pos - lineStart) * m.charWidth;
    const viewH = ta.clientHeight;
    const viewW = ta.clientWidth;
    if (y < ta.scrollTop + m.padY) ta.scrollTop = Math.max(0, y - m.padY);
    else if (y + m.lineHeight > ta.scrollTop + viewH - m.padY) ta.scrollTop = y + m.lineHeight + m.padY - viewH;
    if (x < ta.scrollLeft + m.padX) ta.scrollLeft = Math.max(0, x - m.padX - 40);
    else if (x > ta.scrollLeft + viewW - m.padX - 8) ta.scrollLeft = x - viewW + m.padX + 40;
    syncScroll();
  }

  function onEditorKeydown(e) {
    const ta = el.editor;
    if (e.key === 'Tab' && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      const text = ta.value;
      const s = ta.selectionStart;
      const en = ta.selectionEnd;
      const multi = text.slice(s, en).includes('\n');
      if (!e.shiftKey && !multi) { insertText('  '); return; }
      // Indent or dedent the selected lines.
      const lineStart = text.lastIndexOf('\n', s - 1) + 1;
      const block = text.slice(lineStart, en);
      const lines = block.split('\n');
      const changed = lines.map((l) => (e.shiftKey ? l.replace(/^ {1,2}/, '') : (l.length ? '  ' + l : l)));
      const replacement = changed.join('\n');
      ta.setSelectionRange(lineStart, en);
      insertText(replacement);
      ta.setSelectionRange(lineStart, lineStart + replacement.length);
      return;
    }
    if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey) {
      // Keep the indentation of the current line.
      const text = ta.value;
      const s = ta.selectionStart;
      const lineStart = text.lastIndexOf('\n', s - 1) + 1;
      const indent = /^[ \t]*/.exec(text.slice(lineStart, s))[0];
      if (indent) { e.preventDefault(); insertText('\n' + indent); }
    }
  }

  function onEditorInput() {
    const text = el.editor.value;
    shiftDiagnostics(state.prevText, text);
    state.prevText = text;
    state.checkSeq++; // a check of older text still under way is now stale
    renderHighlight();
    renderBubble();
    refreshStatus();
    updateCursor();
    scheduleCheck();
  }

  // ---------------------------------------------------------------- rulesets

  function rulesetLabel(r) {
    return `${r.name} ${r.version ? 'v' + r.version : ''}`.trim();
  }

  async function loadRulesets() {
    const r = await api('GET', 'rulesets');
    state.rulesets = (r && r.rulesets) || [];
    const sel = el.rulesetSelect;
    const current = sel.value;
    sel.replaceChildren(...state.rulesets.map((rs) => h('option', {
      value: rs.file, title: rs.title || rs.file, text: rulesetLabel(rs) + (rs.title ? ' — ' + rs.title : ''),
    })));
    if (current) sel.value = current;
  }

  async function openRuleset(file) {
    const seq = ++state.openSeq;
    clearTimeout(state.checkTimer);
    state.checkSeq++;
    setStatus('loading…', '');
    let r;
    try {
      r = await api('GET', 'ruleset?file=' + encodeURIComponent(file));
      if (seq !== state.openSeq) return; // another ruleset was chosen meanwhile
    } catch (err) {
      if (seq !== state.openSeq) return;
      showNotice(`Cannot open ${file}: ${err.message}`, 'error');
      setStatus('not loaded', 'error');
      if (state.file) el.rulesetSelect.value = state.file;
      return;
    }
    state.file = r.file || file;
    state.info = state.rulesets.find((x) => x.file === state.file) || { name: r.name, file: state.file };
    state.savedText = r.text;
    state.etag = r.etag || null;
    state.prevText = r.text;
    state.diagnostics = [];
    state.errors = 0;
    state.warnings = 0;
    state.checked = false;
    state.lastTry = null;
    state.graphText = null;
    el.rulesetSelect.value = state.file;
    el.editor.value = r.text;
    el.editor.scrollTop = 0;
    el.editor.scrollLeft = 0;
    el.editor.setSelectionRange(0, 0);
    el.rulesetTitle.textContent = state.info.title || r.name || '';
    state.testCount = Array.isArray(r.tests) ? r.tests.length : 0;
    state.backupCount = Array.isArray(r.history) ? r.history.length : 0;
    renderFileLine();
    try { history.replaceState(null, '', '#' + encodeURIComponent(state.file)); } catch (_) { /* ignore */ }
    hideNotice();
    resetResults();
    fillPatients(true);
    fillHooks();
    renderHighlight();
    renderDiagnostics();
    renderBubble();
    refreshStatus();
    updateCursor();
    scheduleCheck(0);
  }

  function renderFileLine() {
    el.rulesetFile.textContent = `${state.file} · ${plural(state.testCount, 'test case')}`
      + (state.backupCount ? ` · ${plural(state.backupCount, 'backup')}` : '');
  }

  function resetResults() {
    el.tryResult.replaceChildren(h('p', { class: 'empty-state' },
      'Pick a patient and press ', h('b', { text: 'Try' }), ' (Ctrl+Enter) to see the cards this text raises and why each rule fired or not.'));
    el.testsSummary.textContent = '';
    el.testsSummary.className = 'summary-line';
    el.testsResult.replaceChildren(h('p', { class: 'empty-state' },
      'Runs the test cases in the ruleset\'s ', h('code', { text: 'tests/' }), ' folder against the text in the editor (saved or not).'));
    el.backtestSummary.replaceChildren(h('p', { class: 'empty-state',
      text: 'Replays a cohort at a date with the text in the editor: how many patients each rule would alert on.' }));
    el.backtestReport.hidden = true;
    el.backtestReport.removeAttribute('srcdoc');
    el.graphView.replaceChildren(h('p', { class: 'empty-state',
      text: 'The evaluation graph of this text: every query, value, condition and card is a node; nodes shared by several rules are highlighted.' }));
    el.graphStats.textContent = '';
    if (state.activeTab === 'graph') drawGraph();
  }

  // ---------------------------------------------------------------- samples

  async function loadSamples() {
    try {
      const r = await api('GET', 'samples');
      state.samples = { patients: (r && r.patients) || [], cohorts: (r && r.cohorts) || [] };
    } catch (err) {
      showNotice(`Cannot list the sample patients: ${err.message}`, 'error');
    }
    fillPatients();
    el.cohortSelect.replaceChildren(...state.samples.cohorts.map((c) => h('option', { value: c.id, text: c.label || c.id })));
    onCohortChange();
  }

  /**
   * Backtest times that find data: the cohort's last encounter (once), or the two years before
   * it (timeline) — unless the user typed times of their own.
   */
  function onCohortChange() {
    const c = state.samples.cohorts.find((x) => x.id === el.cohortSelect.value);
    const latest = (c && c.latest) || today();
    const twoYearsBefore = `${Number(latest.slice(0, 4)) - 2}${latest.slice(4)}`;
    for (const [input, value] of [[el.backtestAt, latest], [el.backtestFrom, twoYearsBefore], [el.backtestTo, latest]]) {
      if (!input.dataset.typed) input.value = value;
    }
  }

  /** Whether a sample is one of the rulesets' test cases (`case:` or `fixture:` ids). */
  function isCase(p) { return p.source === 'case' || p.source === 'fixture'; }

  /** The path part of a sample id (`case:news2/tests/x.json` → `news2/tests/x.json`). */
  function samplePath(p) {
    const i = p.id.indexOf(':');
    return i < 0 ? p.id : p.id.slice(i + 1);
  }

  function fillPatients(reset) {
    const sel = el.patientSelect;
    const keep = reset ? null : sel.value;
    const folder = state.file ? folderOf(state.file) : null;
    const own = [];
    const otherCases = [];
    const shared = [];
    for (const p of state.samples.patients) {
      if (isCase(p) && folder !== null && samplePath(p).startsWith(`${folder}/tests/`)) own.push(p);
      else if (isCase(p)) otherCases.push(p);
      else shared.push(p);
    }
    const ownPrefix = state.info && state.info.name ? `${state.info.name} · ` : null;
    const option = (p, strip) => {
      let label = p.label || p.id;
      if (strip && ownPrefix && label.startsWith(ownPrefix)) label = label.slice(ownPrefix.length);
      return h('option', { value: p.id, title: p.label || p.id, text: label });
    };
    const group = (label, items, strip) => (items.length
      ? h('optgroup', { label }, items.map((p) => option(p, strip)))
      : null);
    const groups = [
      group("This ruleset's test cases", own, true),
      group('Sample patients', shared, false),
      group("Other rulesets' test cases", otherCases, false),
    ].filter(Boolean);
    sel.replaceChildren(...groups);
    if (keep && [...sel.options].some((o) => o.value === keep)) {
      sel.value = keep;
    } else if (sel.options.length) {
      sel.selectedIndex = 0;
    }
    onPatientChange();
  }

  function fillHooks() {
    const answered = (state.info && state.info.hooks) || [];
    const opts = [h('option', { value: '', text: 'any' })];
    for (const hk of answered) opts.push(h('option', { value: hk, text: hk }));
    const others = HOOKS.filter((hk) => !answered.includes(hk));
    if (others.length) {
      opts.push(h('optgroup', { label: 'not answered by this ruleset' },
        others.map((hk) => h('option', { value: hk, text: hk }))));
    }
    const keep = el.hookSelect.value;
    el.hookSelect.replaceChildren(...opts);
    el.hookSelect.value = keep && [...el.hookSelect.options].some((o) => o.value === keep) ? keep : '';
    const keepBacktest = el.backtestHook.value;
    el.backtestHook.replaceChildren(...opts.map((o) => o.cloneNode(true)));
    el.backtestHook.value = keepBacktest && [...el.backtestHook.options].some((o) => o.value === keepBacktest) ? keepBacktest : '';
  }

  function selectedSample() {
    return state.samples.patients.find((p) => p.id === el.patientSelect.value) || null;
  }

  function onPatientChange() {
    const p = selectedSample();
    el.atInput.placeholder = p && p.at ? p.at : 'now';
    el.atInput.title = 'Evaluation time (empty: ' + (p && p.at ? "the sample's time" : 'now') + ')';
    if (p && p.hook && [...el.hookSelect.options].some((o) => o.value === p.hook)) el.hookSelect.value = p.hook;
  }

  // ---------------------------------------------------------------- try

  function valueClass(v) {
    const s = String(v).toLowerCase();
    if (s === 'yes' || s === 'true') return 'v-yes';
    if (s === 'no' || s === 'false') return 'v-no';
    if (/^(not recorded|absent|unknown|none|nothing|no value)/.test(s)) return 'v-absent';
    return '';
  }

  function resourceChips(resources) {
    return (resources || []).map((r) => h('span', { class: 'res', title: 'Resource', text: r }));
  }

  function renderCard(c) {
    const ind = ['critical', 'warning', 'info'].includes(c.indicator) ? c.indicator : 'info';
    const card = h('article', { class: `card indicator-${ind}` },
      h('div', { class: 'card-top' },
        h('span', { class: 'card-indicator', text: ind }),
        h('span', { class: 'card-summary', text: c.summary })),
      h('div', { class: 'card-meta' },
        h('span', { class: 'card-rule', title: 'ruleset · rule', text: `${c.ruleset} · ${c.rule}` })));
    if (c.detail) card.append(h('div', { class: 'card-detail', text: c.detail }));
    if (Array.isArray(c.evidence) && c.evidence.length) {
      card.append(h('table', { class: 'evidence' },
        h('thead', null, h('tr', null, h('th', { text: 'Evidence' }), h('th', { text: 'Value' }), h('th', { text: 'From' }))),
        h('tbody', null, c.evidence.map((ev) => h('tr', null,
          h('td', { class: 'ev-name', text: ev.name }),
          h('td', { class: 'ev-value', text: ev.value === null || ev.value === undefined ? '—' : String(ev.value) }),
          h('td', null, resourceChips(ev.resources)))))));
    }
    return card;
  }

  function renderExplanation(r, open) {
    const fired = !!r.fired;
    const state_ = fired ? 'fired' : (r.evaluated === false ? 'not evaluated' : 'not fired');
    const details = h('details', { class: `rule-explanation ${fired ? 'fired' : 'not-fired'}` },
      h('summary', null,
        h('span', { class: 'r-dot' }),
        h('span', { class: 'r-name', text: r.rule }),
        h('span', { class: 'r-ruleset', text: r.ruleset }),
        h('span', { class: 'r-state', text: state_ })));
    if (open) details.open = true;
    const ul = h('ul', { class: 'outline' });
    for (const line of r.lines || []) {
      const depth = Math.max(0, line.depth | 0);
      const li = h('li', { style: `padding-left:${8 + depth * 18}px;margin-left:${depth ? 2 : 0}px` });
      if (line.name && !String(line.text || '').startsWith(line.name)) li.append(h('span', { class: 'o-name', text: line.name + ' =' }));
      li.append(h('span', { class: 'o-text', text: line.text }));
      if (line.value !== null && line.value !== undefined && line.value !== '') {
        li.append(h('span', { class: `o-value ${valueClass(line.value)}`, text: String(line.value) }));
      }
      li.append(...resourceChips(line.resources));
      ul.append(li);
    }
    if (!(r.lines || []).length) ul.append(h('li', null, h('span', { class: 'o-text', text: '(no explanation)' })));
    details.append(ul);
    return details;
  }

  function renderTry(r, request) {
    const out = [];
    const sample = state.samples.patients.find((p) => p.id === request.patient);
    out.push(h('div', { class: 'try-patient', title: request.patient, text: sample ? sample.label : request.patient }));
    out.push(h('div', { class: 'try-head' },
      h('span', { class: 'mono', title: 'Evaluation time', text: r.at || '' }),
      h('span', { text: '·' }),
      h('span', { text: 'hook ' + (r.hook || 'any') }),
      h('span', { class: 'spacer' }),
      h('span', { class: 'pill', title: 'Evaluation time of the rules', id: 'try-time',
        text: `${Number(r.micros).toLocaleString('en', { maximumFractionDigits: 1 })} µs` })));

    const cards = r.cards || [];
    out.push(h('div', { class: 'section-title' }, 'Cards', h('span', { class: 'pill', text: String(cards.length) })));
    out.push(cards.length
      ? h('div', { class: 'cards' }, cards.map(renderCard))
      : h('div', { class: 'no-cards', text: 'No cards: no rule fired for this patient at this time.' }));

    const desc = h('input', { id: 'save-case-description', type: 'text',
      placeholder: 'Describe this case to save it as a test case', autocomplete: 'off', spellcheck: 'true' });
    const saveBtn = h('button', { id: 'save-case-btn', class: 'btn', type: 'button', text: 'Save as test case' });
    const saveResult = h('div', { class: 'save-case-result', id: 'save-case-result' });
    saveBtn.addEventListener('click', () => saveCase(desc, saveBtn, saveResult));
    desc.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); saveCase(desc, saveBtn, saveResult); } });
    out.push(h('div', { class: 'save-case' }, desc, saveBtn), saveResult);

    if (Array.isArray(r.issues) && r.issues.length) {
      out.push(h('div', { class: 'section-title', text: 'Evaluation issues' }));
      out.push(h('ul', { class: 'issues' }, r.issues.map((i) => h('li', { text: i }))));
    }

    const rules = r.rules || [];
    const firedCount = rules.filter((x) => x.fired).length;
    out.push(h('div', { class: 'section-title' }, 'Rules',
      h('span', { class: 'pill', text: `${firedCount} of ${rules.length} fired` })));
    const openAll = rules.length <= 6;
    out.push(h('div', { class: 'explanations' }, rules.map((x) => renderExplanation(x, openAll || x.fired))));
    el.tryResult.replaceChildren(...out);
  }

  function errorBox(text) { return h('div', { class: 'error-box', role: 'alert', text }); }

  async function runTry() {
    if (!state.file) return;
    const patient = el.patientSelect.value;
    if (!patient) { el.tryResult.replaceChildren(errorBox('There is no sample patient to try.')); return; }
    activateTab('try');
    const text = el.editor.value;
    const request = {
      file: state.file, text, patient,
      at: el.atInput.value.trim() || null,
      hook: el.hookSelect.value || null,
    };
    setBusy(el.tryBtn, true);
    try {
      const r = await api('POST', 'try', request);
      state.lastTry = request;
      renderTry(r, request);
    } catch (err) {
      const diags = diagnosticsOf(err);
      if (diags && el.editor.value === text) applyDiagnostics(diags);
      el.tryResult.replaceChildren(errorBox(diags
        ? `The text has ${plural(diags.filter((d) => d.severity === 'error').length, 'error')}: fix them to try it.`
        : `Try failed: ${err.message}`));
    } finally {
      setBusy(el.tryBtn, false);
    }
  }

  async function saveCase(input, button, result) {
    const req = state.lastTry;
    if (!req) return;
    const description = input.value.trim();
    if (!description) {
      result.textContent = 'Write a short description first (it names the file).';
      input.focus();
      return;
    }
    setBusy(button, true);
    try {
      const r = await api('POST', 'tests/save', Object.assign({}, req, { description }));
      const cards = (r.cards || []).length ? `expects ${r.cards.join(', ')}` : 'expects no card';
      result.replaceChildren(h('span', { class: 'pill ok', text: 'saved' }), ` ${r.case} (${cards})`);
      input.value = '';
      if (req.file === state.file) { state.testCount += 1; renderFileLine(); }
    } catch (err) {
      result.replaceChildren(h('span', { class: 'pill bad', text: 'not saved' }), ' '
        + (err.status === 409 ? 'A test case with this name exists: change the description.' : err.message));
    } finally {
      setBusy(button, false);
    }
  }

  // ---------------------------------------------------------------- tests

  /** A mismatch: its first line, then the explanation that may follow it, as written. */
  function mismatchItem(m) {
    const text = String(m);
    const nl = text.indexOf('\n');
    if (nl < 0) return h('li', { text });
    const rest = text.slice(nl + 1);
    const indent = Math.min(...rest.split('\n').filter((l) => l.trim()).map((l) => /^ */.exec(l)[0].length));
    const body = rest.split('\n').map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join('\n');
    return h('li', null, text.slice(0, nl),
      h('details', { class: 'tc-details' }, h('summary', { text: 'explanation' }), h('pre', { class: 'tc-explain', text: body })));
  }

  async function runTests() {
    if (!state.file) return;
    const text = el.editor.value;
    setBusy(el.runTestsBtn, true);
    el.testsSummary.className = 'summary-line';
    el.testsSummary.textContent = 'running…';
    try {
      const r = await api('POST', 'tests', { file: state.file, text });
      const cases = (r.cases || []).slice().sort((a, b) => Number(a.passed) - Number(b.passed));
      el.testsSummary.textContent = `${r.passed} passed, ${r.failed} failed`;
      el.testsSummary.className = 'summary-line ' + (r.failed ? 'fail' : 'pass');
      el.testsResult.replaceChildren(cases.length
        ? h('ul', { class: 'test-cases' }, cases.map((c) => h('li', { class: `test-case ${c.passed ? 'pass' : 'fail'}` },
          h('span', { class: 'tc-icon', text: c.passed ? '✓' : '✕' }),
          h('span', { class: 'tc-description', text: c.description || c.file }),
          h('span', { class: 'tc-file', text: c.file }),
          (c.mismatches || []).length ? h('ul', { class: 'tc-mismatches' }, c.mismatches.map(mismatchItem)) : null)))
        : h('p', { class: 'empty-state', text: 'This ruleset has no test cases yet: save one from the Try tab.' }));
    } catch (err) {
      const diags = diagnosticsOf(err);
      if (diags && el.editor.value === text) applyDiagnostics(diags);
      el.testsSummary.textContent = 'not run';
      el.testsSummary.className = 'summary-line fail';
      el.testsResult.replaceChildren(errorBox(diags ? 'The text has errors: fix them to run the tests.' : `The tests could not run: ${err.message}`));
    } finally {
      setBusy(el.runTestsBtn, false);
    }
  }

  // ---------------------------------------------------------------- backtest

  function fmt(n, digits) {
    if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
    return Number(n).toLocaleString('en', { maximumFractionDigits: digits === undefined ? 0 : digits });
  }

  function today() {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function onBacktestMode() {
    const mode = el.backtestMode.value;
    for (const f of document.querySelectorAll('.backtest-controls [data-mode]')) {
      f.hidden = f.dataset.mode !== mode;
    }
  }

  async function runBacktest() {
    if (!state.file) return;
    const cohort = el.cohortSelect.value;
    if (!cohort) { el.backtestSummary.replaceChildren(errorBox('There is no cohort to replay.')); return; }
    const text = el.editor.value;
    setBusy(el.backtestBtn, true);
    const label = el.cohortSelect.selectedOptions[0] ? el.cohortSelect.selectedOptions[0].textContent : cohort;
    el.backtestSummary.replaceChildren(h('div', { class: 'busy-line', text: `Replaying ${label}…` }));
    el.backtestReport.hidden = true;
    const request = { file: state.file, text, cohort };
    if (el.backtestMode.value === 'every') {
      request.from = el.backtestFrom.value.trim();
      request.to = el.backtestTo.value.trim();
      request.every = el.backtestEvery.value;
    } else {
      request.at = el.backtestAt.value.trim() || today();
    }
    if (el.backtestHook.value) request.hook = el.backtestHook.value;
    try {
      const r = await api('POST', 'backtest', request);
      const totals = h('div', { class: 'totals' },
        [['patients', r.patients, 0], ['evaluations', r.evaluations, 0], ['cards', r.cards, 0], ['seconds', r.seconds, 2]]
          .map(([name, v, d]) => h('div', { class: 'total' },
            h('div', { class: 't-value', text: fmt(v, d) }), h('div', { class: 't-label', text: name }))));
      const rows = (r.rules || []).map((x) => h('tr', null,
        h('td', null, h('span', { class: 'card-rule', text: `${x.ruleset} · ${x.rule}` })),
        h('td', null, h('span', { class: `t-indicator-${x.indicator}`, text: x.indicator || '' })),
        h('td', { class: 'num', text: fmt(x.patients) }),
        h('td', { class: 'num', text: fmt(x.alerts) }),
        h('td', { class: 'num', text: fmt(x.per100PatientMonths, 2) })));
      const table = h('table', null,
        h('thead', null, h('tr', null, h('th', { text: 'Rule' }), h('th', { text: 'Indicator' }),
          h('th', { class: 'num', text: 'Patients' }), h('th', { class: 'num', text: 'Alerts' }),
          h('th', { class: 'num', text: 'Per 100 patient-months' }))),
        h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: '5', class: 'empty-state', text: 'No rule alerted.' }))));
      const notes = [r.mode, r.cohort].filter(Boolean).join(' · ');
      const skipped = r.skipped ? ` · ${plural(r.skipped, 'patient')} skipped` : '';
      el.backtestSummary.replaceChildren(
        notes || skipped ? h('p', { class: 'backtest-mode-line', text: notes + skipped }) : '',
        totals, table);
      if (r.report) {
        el.backtestReport.srcdoc = r.report;
        el.backtestReport.hidden = false;
      }
    } catch (err) {
      const diags = diagnosticsOf(err);
      if (diags && el.editor.value === text) applyDiagnostics(diags);
      el.backtestSummary.replaceChildren(errorBox(diags ? 'The text has errors: fix them to backtest it.' : `The backtest failed: ${err.message}`));
    } finally {
      setBusy(el.backtestBtn, false);
    }
  }

  // ---------------------------------------------------------------- graph

  function graphSvg() { return el.graphView.querySelector('svg'); }

  function naturalSize(svg) {
    const vb = svg.viewBox && svg.viewBox.baseVal;
    if (vb && vb.width && vb.height) return { w: vb.width, h: vb.height };
    const w = parseFloat(svg.getAttribute('width'));
    const hh = parseFloat(svg.getAttribute('height'));
    if (w && hh) return { w, h: hh };
    const box = svg.getBBox();
    return { w: box.width || 800, h: box.height || 600 };
  }

  function setZoom(z, anchor) {
    const svg = graphSvg();
    if (!svg || !state.graphSize) return;
    const view = el.graphView;
    const old = state.zoom;
    z = Math.max(0.1, Math.min(4, z));
    // Keep the point under the anchor (in view coordinates) in place.
    const ax = anchor ? anchor.x : view.clientWidth / 2;
    const ay = anchor ? anchor.y : view.clientHeight / 2;
    const cx = (view.scrollLeft + ax) / old;
    const cy = (view.scrollTop + ay) / old;
    state.zoom = z;
    svg.style.width = `${state.graphSize.w * z}px`;
    svg.style.height = `${state.graphSize.h * z}px`;
    view.scrollLeft = cx * z - ax;
    view.scrollTop = cy * z - ay;
    el.zoomLevel.textContent = `${Math.round(z * 100)}%`;
  }

  function fitZoom() {
    if (!state.graphSize) return;
    const view = el.graphView;
    const z = Math.min((view.clientWidth - 28) / state.graphSize.w, (view.clientHeight - 28) / state.graphSize.h, 1.5);
    setZoom(z > 0 ? z : 1, { x: 0, y: 0 });
    view.scrollLeft = 0;
    view.scrollTop = 0;
  }

  /** Scrolls the graph so that its rule nodes (the cards, at the top) are in view. */
  function showGraphRules() {
    const view = el.graphView;
    const cards = [...view.querySelectorAll('.node.card')];
    if (!cards.length) return;
    const origin = view.getBoundingClientRect();
    let min = Infinity;
    let max = -Infinity;
    for (const c of cards) {
      const r = c.getBoundingClientRect();
      min = Math.min(min, r.left - origin.left + view.scrollLeft);
      max = Math.max(max, r.right - origin.left + view.scrollLeft);
    }
    const span = max - min;
    view.scrollLeft = span < view.clientWidth ? (min + max) / 2 - view.clientWidth / 2 : min - 12;
    view.scrollTop = 0;
  }

  async function drawGraph() {
    if (!state.file) return;
    const text = el.editor.value;
    setBusy(el.graphBtn, true);
    el.graphStats.textContent = 'drawing…';
    try {
      const r = await api('POST', 'graph', { file: state.file, text });
      el.graphView.innerHTML = r.svg || '';
      const svg = graphSvg();
      state.graphText = text;
      el.graphStats.textContent = `${plural(r.nodes, 'node')} · ${plural(r.edges, 'edge')} · ${r.shared} shared`;
      if (svg) {
        state.graphSize = naturalSize(svg);
        svg.removeAttribute('width');
        svg.removeAttribute('height');
        svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
        state.zoom = 1;
        const view = el.graphView;
        // Readable first: the width fitted, but not smaller than half size; then the rules
        // (the cards, drawn at the top) in view.
        const fitWidth = (view.clientWidth - 28) / state.graphSize.w;
        setZoom(Math.max(0.5, Math.min(1, fitWidth)), { x: 0, y: 0 });
        showGraphRules();
      }
    } catch (err) {
      const diags = diagnosticsOf(err);
      if (diags && el.editor.value === text) applyDiagnostics(diags);
      el.graphStats.textContent = '';
      el.graphView.replaceChildren(errorBox(diags ? 'The text has errors: fix them to draw its graph.' : `The graph could not be drawn: ${err.message}`));
    } finally {
      setBusy(el.graphBtn, false);
    }
  }

  /** Drag to pan the graph. */
  function onGraphDrag(e) {
    if (e.button !== 0 || !graphSvg()) return;
    const view = el.graphView;
    const start = { x: e.clientX, y: e.clientY, left: view.scrollLeft, top: view.scrollTop };
    view.classList.add('dragging');
    const move = (m) => {
      view.scrollLeft = start.left - (m.clientX - start.x);
      view.scrollTop = start.top - (m.clientY - start.y);
    };
    const up = () => {
      view.classList.remove('dragging');
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
    e.preventDefault();
  }

  function onGraphWheel(e) {
    if (!e.ctrlKey || !graphSvg()) return;
    e.preventDefault();
    const rect = el.graphView.getBoundingClientRect();
    const factor = Math.exp(-e.deltaY * 0.0015);
    setZoom(state.zoom * factor, { x: e.clientX - rect.left, y: e.clientY - rect.top });
  }

  // ---------------------------------------------------------------- format, save

  async function formatText() {
    if (!state.file) return;
    const text = el.editor.value;
    setBusy(el.formatBtn, true);
    try {
      const r = await api('POST', 'format', { file: state.file, text });
      if (el.editor.value !== text) return; // typed meanwhile: do not overwrite
      if (r.text === text) { showNotice('Already in the canonical format.', 'ok'); return; }
      const pos = el.editor.selectionStart;
      const line = lineOf(text, pos);
      el.editor.focus();
      el.editor.select();
      insertText(r.text);
      // Back to the same line (the formatter keeps the order of things).
      let offset = 0;
      for (let l = 0; l < line; l++) {
        const nl = r.text.indexOf('\n', offset);
        if (nl < 0) break;
        offset = nl + 1;
      }
      el.editor.setSelectionRange(offset, offset);
      updateCursor();
      showNotice('Formatted.', 'ok');
    } catch (err) {
      const diags = diagnosticsOf(err);
      if (diags && el.editor.value === text) applyDiagnostics(diags);
      showNotice(diags ? 'The text cannot be formatted until it parses: see the problems.' : `Format failed: ${err.message}`, 'error');
    } finally {
      setBusy(el.formatBtn, false);
      refreshStatus();
    }
  }

  async function save() {
    if (!state.file) return;
    if (state.errors > 0) {
      showNotice(`Fix the ${plural(state.errors, 'error')} before saving.`, 'error');
      return;
    }
    if (!isDirty()) { showNotice('Nothing to save: the file on disk has this text.', ''); return; }
    const text = el.editor.value;
    const file = state.file;
    setBusy(el.saveBtn, true);
    let ok = false;
    try {
      const request = { file, text };
      if (state.etag) request.etag = state.etag;
      const r = await api('PUT', 'ruleset', request);
      ok = true;
      if (state.file === file) {
        state.savedText = text;
        state.etag = r.etag || null;
        if (r.backup) { state.backupCount += 1; renderFileLine(); }
        const backup = r.backup ? ` Backup of the previous version: ${r.backup}.` : '';
        const reloaded = r.reloaded ? ' The server now uses it.' : '';
        showNotice(`Saved ${r.file || file}.${backup}${reloaded}`, 'ok');
        loadRulesets().then(() => {
          state.info = state.rulesets.find((x) => x.file === state.file) || state.info;
          if (state.info && state.info.title) el.rulesetTitle.textContent = state.info.title;
        }).catch(() => { /* the list is only cosmetic here */ });
      }
    } catch (err) {
      const diags = diagnosticsOf(err);
      if (diags && el.editor.value === text) applyDiagnostics(diags);
      let why = diags ? 'the text does not check clean.' : err.message;
      if (err.status === 409) {
        why = 'the file changed on disk since it was opened here. Copy your text, reopen the ruleset and apply your changes again.';
      }
      showNotice(`Not saved: ${why}`, 'error');
    } finally {
      el.saveBtn.classList.remove('busy');
      el.saveBtn.setAttribute('aria-busy', 'false');
      refreshStatus();
      if (ok && !isDirty() && !state.errors) setStatus('saved', 'ok');
    }
  }

  // ---------------------------------------------------------------- tabs

  function activateTab(name) {
    state.activeTab = name;
    for (const t of ['try', 'tests', 'backtest', 'graph']) {
      const on = t === name;
      $('tab-' + t).classList.toggle('active', on);
      $('tab-' + t).setAttribute('aria-selected', on ? 'true' : 'false');
      $('panel-' + t).hidden = !on;
      $('panel-' + t).classList.toggle('active', on);
    }
    if (name === 'graph' && state.graphText !== el.editor.value) drawGraph();
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    el.editor.addEventListener('input', onEditorInput);
    el.editor.addEventListener('scroll', syncScroll);
    el.editor.addEventListener('keydown', onEditorKeydown);
    for (const ev of ['keyup', 'click', 'focus', 'select']) el.editor.addEventListener(ev, updateCursor);
    el.formatBtn.addEventListener('click', formatText);
    el.saveBtn.addEventListener('click', save);
    el.noticeClose.addEventListener('click', hideNotice);
    el.tryBtn.addEventListener('click', runTry);
    el.runTestsBtn.addEventListener('click', runTests);
    el.backtestBtn.addEventListener('click', runBacktest);
    el.graphBtn.addEventListener('click', drawGraph);
    el.zoomIn.addEventListener('click', () => setZoom(state.zoom * 1.25));
    el.zoomOut.addEventListener('click', () => setZoom(state.zoom / 1.25));
    el.zoomFit.addEventListener('click', fitZoom);
    el.graphView.addEventListener('wheel', onGraphWheel, { passive: false });
    el.graphView.addEventListener('mousedown', onGraphDrag);
    el.patientSelect.addEventListener('change', onPatientChange);
    el.backtestMode.addEventListener('change', onBacktestMode);
    el.cohortSelect.addEventListener('change', onCohortChange);
    for (const input of [el.backtestAt, el.backtestFrom, el.backtestTo]) {
      input.addEventListener('input', () => { input.dataset.typed = '1'; });
    }
    if (!el.backtestAt.value) el.backtestAt.value = today();
    for (const t of ['try', 'tests', 'backtest', 'graph']) {
      $('tab-' + t).addEventListener('click', () => activateTab(t));
    }
    el.rulesetSelect.addEventListener('change', () => {
      const file = el.rulesetSelect.value;
      if (isDirty() && !window.confirm(`Discard the unsaved changes to ${state.file}?`)) {
        el.rulesetSelect.value = state.file;
        return;
      }
      openRuleset(file);
    });
    document.addEventListener('keydown', (e) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && !e.altKey && (e.key === 's' || e.key === 'S')) { e.preventDefault(); save(); }
      else if (mod && e.key === 'Enter') { e.preventDefault(); runTry(); }
    });
    window.addEventListener('beforeunload', (e) => {
      if (isDirty()) { e.preventDefault(); e.returnValue = ''; }
    });
    window.addEventListener('resize', () => { measureFont(); positionBubble(); });
    if (typeof ResizeObserver === 'function') new ResizeObserver(() => positionBubble()).observe(el.codeArea);
  }

  async function start() {
    measureFont();
    wire();
    fillHooks();
    renderHighlight();
    const samples = loadSamples();
    try {
      await loadRulesets();
    } catch (err) {
      showNotice(`Cannot list the rulesets: ${err.message}`, 'error');
      setStatus('offline', 'error');
      return;
    }
    if (!state.rulesets.length) { setStatus('no rulesets', 'warning'); return; }
    // Unless one was already picked from the list while it loaded.
    if (!state.openSeq) {
      const wanted = decodeURIComponent((location.hash || '').slice(1));
      const first = state.rulesets.find((r) => r.file === wanted) || state.rulesets[0];
      await openRuleset(first.file);
    }
    await samples;
  }

  if (document.fonts && document.fonts.ready) document.fonts.ready.then(() => { measureFont(); positionBubble(); });
  start();
}());
