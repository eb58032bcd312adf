/* The live page of `muse live --ui` (nomad_muse.report, inlined by nomad_muse.ui.page). Reads the server-sent
   events "tick" and "report"; charts arrive as SVG drawn by nomad_muse.report.plot, text is set with textContent. */
(function () {
  'use strict';
  var token = new URLSearchParams(location.search).get('token') || '';
  var q = '?token=' + encodeURIComponent(token);
  var $ = function (id) { return document.getElementById(id); };
  var lastTick = 0, ticks = 0, reports = 0;

  function text(el, s) { if (typeof el === 'string') el = $(el); if (el && el.textContent !== s) el.textContent = s; }
  function cell(tr, s, cls) { var td = document.createElement('td'); td.textContent = s; if (cls) td.className = cls; tr.appendChild(td); return td; }
  function setConn(ok, why) { var c = $('conn'); c.className = ok ? 'status-ok' : 'status-bad'; text(c, why); }

  function onTick(d) {
    ticks += 1; lastTick = Date.now();
    setConn(true, 'live');
    text('track-type', d.track_type || '—');
    text('family', d.family || '—');
    text('confidence', d.family ? '(' + Math.round(d.confidence * 100) + ' %)' : '');
    text('clock', d.seconds.toFixed(1) + ' s');
    text('beat', 'beat ' + d.beat.toFixed(1) + ' @ ' + d.bpm.toFixed(1) + ' BPM');
    var c = d.counters;
    text('headline', c.deadline_misses + ' · ' + c.xruns + ' · ' + c.fallbacks);
    Object.keys(c).forEach(function (k) {
      var e = $('c-' + k);
      if (e) { text(e, String(c[k])); e.setAttribute('data-value', String(c[k])); }
    });
    $('roll').innerHTML = d.roll;  // SVG from the report kit (escaped there)
    var tb = $('latency').tBodies[0], rows = document.createDocumentFragment();
    var load = document.createElement('tr');
    cell(load, 'callback (max load)'); cell(load, ''); cell(load, ''); cell(load, Math.round(d.cb_load_max * 100) + ' %', 'num'); cell(load, ''); cell(load, '');
    rows.appendChild(load);
    d.timings.forEach(function (t) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-module', t.module);
      cell(tr, t.module); cell(tr, t.p50_ms.toFixed(2), 'num'); cell(tr, t.p99_ms.toFixed(2), 'num');
      cell(tr, t.max_ms.toFixed(2), 'num'); cell(tr, t.budget_ms.toFixed(1), 'num'); cell(tr, String(t.misses), 'num');
      rows.appendChild(tr);
    });
    tb.replaceChildren(rows);
    var u = d.ui;
    text('ui-stats', 'Live view: ' + u.frames + ' frames built at up to ' + u.rate_hz + '/s, ' + ticks + ' received here; stale frames dropped: '
      + u.dropped_poll + ' before the server took them, ' + u.dropped_client + ' for slow pages; ' + u.streams + ' page(s) open; '
      + u.build_cpu_ms_mean.toFixed(2) + ' ms CPU per frame (worst ' + u.build_cpu_ms_max.toFixed(1) + ' ms).');
    document.body.setAttribute('data-ticks', String(ticks));
  }

  function onReport(d) {
    reports += 1;
    document.body.setAttribute('data-reports', String(reports));
    if (d.target) { var sel = $('target'); if (sel.value !== d.target) sel.value = d.target; }
    if (!d.ready) return;
    $('bands').innerHTML = d.bands_svg || '<p class="note">Not measured: the mix is below the −70 LUFS gate.</p>';
    $('curve').innerHTML = d.curve_svg || '';
    d.meters.forEach(function (m) {
      var row = $('meter-' + m.key);
      if (!row) return;
      var pct = m.value === null ? 0 : Math.max(0, Math.min(100, (m.value - m.lo) / (m.hi - m.lo) * 100));
      row.querySelector('.fill').style.width = pct.toFixed(1) + '%';
      text(row.querySelector('.val'), m.text);
      row.title = m.note;
    });
    var box = $('suggestions-box');
    if (!d.suggestions.length) {
      var p = document.createElement('p'); p.id = 'suggestions';
      p.textContent = d.muted_hidden ? 'No other suggestions (' + d.muted_hidden + ' muted).' : 'No suggestions: every rule is within its threshold.';
      box.replaceChildren(p);
    } else {
      var t = document.createElement('table'); t.id = 'suggestions';
      var h = t.createTHead().insertRow();
      ['severity', 'region', 'action', 'why', ''].forEach(function (s) { var th = document.createElement('th'); th.textContent = s; h.appendChild(th); });
      var b = t.createTBody();
      d.suggestions.forEach(function (s) {
        var tr = b.insertRow(); tr.className = 'suggestion'; tr.setAttribute('data-key', s.key); tr.setAttribute('data-kind', s.kind);
        cell(tr, s.severity, 'sev-' + s.severity); cell(tr, s.region); cell(tr, s.action); cell(tr, s.why);
        var btn = document.createElement('button'); btn.textContent = 'mute'; btn.className = 'mute';
        btn.addEventListener('click', function () { act({action: 'mute', key: s.key}); });
        cell(tr, '').appendChild(btn);
      });
      box.replaceChildren(t);
    }
    var ml = $('muted-line');
    ml.replaceChildren();
    if (d.muted.length) {
      ml.appendChild(document.createTextNode('Muted: '));
      d.muted.forEach(function (k) {
        var btn = document.createElement('button'); btn.textContent = 'unmute ' + k; btn.className = 'unmute';
        btn.addEventListener('click', function () { act({action: 'unmute', key: k}); });
        ml.appendChild(btn); ml.appendChild(document.createTextNode(' '));
      });
    }
  }

  function act(body) {
    return fetch('/action' + q, {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Muse-Token': token},
      body: JSON.stringify(body), cache: 'no-store'}).then(function (r) { return r.json(); }).then(function (j) {
      if (!j.ok) setConn(false, j.error);
    });
  }

  $('target').addEventListener('change', function (ev) { act({action: 'target', name: ev.target.value}); });
  var es = new EventSource('/events' + q);
  es.addEventListener('tick', function (ev) { onTick(JSON.parse(ev.data)); });
  es.addEventListener('report', function (ev) { onReport(JSON.parse(ev.data)); });
  es.onerror = function () { setConn(false, 'disconnected — retrying'); };
  setInterval(function () { if (lastTick && Date.now() - lastTick > 2000) setConn(false, 'no update for ' + Math.round((Date.now() - lastTick) / 1000) + ' s'); }, 1000);
})();
