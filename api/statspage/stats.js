// The statistics page: reads the portal's campaigns and a campaign's figures from the API with
// the link's own query (portal, exp, sig) and draws them with Chart.js.
(function () {
  'use strict';

  var page = new URLSearchParams(window.location.search);
  var auth = new URLSearchParams();
  ['portal', 'exp', 'sig'].forEach(function (k) { auth.set(k, page.get(k) || ''); });

  // state is what a test (or a curious operator) can read: the charts and the figures shown.
  var state = { ready: false, campaign: '', figures: null, charts: {} };
  window.smsflowStats = state;

  var outcomes = ['sent', 'not_sent', 'delivered', 'not_delivered', 'clicked', 'replied', 'unsubscribed'];
  var series = [
    { key: 'sent', label: 'Sent', color: '#516f90' },
    { key: 'delivered', label: 'Delivered', color: '#00bda5' },
    { key: 'not_delivered', label: 'Not delivered', color: '#f2545b' },
    { key: 'clicked', label: 'Clicked', color: '#ff7a59' },
    { key: 'replied', label: 'Replied', color: '#6a78d1' },
    { key: 'unsubscribed', label: 'Unsubscribed', color: '#99afc4' }
  ];

  function $(id) { return document.getElementById(id); }

  function url(path, extra) {
    var q = new URLSearchParams(auth);
    Object.keys(extra || {}).forEach(function (k) {
      [].concat(extra[k]).forEach(function (v) { q.append(k, v); });
    });
    return path + '?' + q.toString();
  }

  function getJSON(path, extra) {
    return fetch(url(path, extra), { credentials: 'omit', cache: 'no-store' }).then(function (r) {
      if (r.status === 401) { throw new Error('This link has expired or is not valid: open the statistics again from HubSpot.'); }
      if (!r.ok) { throw new Error('The statistics could not be loaded (HTTP ' + r.status + '); try again.'); }
      return r.json();
    });
  }

  function fail(err) {
    var e = $('error');
    e.textContent = err.message || String(err);
    e.hidden = false;
    state.error = e.textContent;
  }

  function rate(part, whole, of) {
    return whole > 0 ? Math.round(1000 * part / whole) / 10 + ' % ' + of : '';
  }

  function tiles(t) {
    var box = $('tiles');
    box.textContent = '';
    [
      ['Messages', t.messages, ''],
      ['Sent', t.sent, rate(t.sent, t.messages, 'of messages')],
      ['Not sent', t.not_sent, ''],
      ['Delivered', t.delivered, rate(t.delivered, t.sent, 'of sent')],
      ['Not delivered', t.not_delivered, rate(t.not_delivered, t.sent, 'of sent')],
      ['Clicked', t.clicked, rate(t.clicked, t.delivered, 'of delivered')],
      ['Replied', t.replied, rate(t.replied, t.delivered, 'of delivered')],
      ['Unsubscribed', t.unsubscribed, rate(t.unsubscribed, t.delivered, 'of delivered')],
      ['Pending', t.pending, ''],
      ['Parts (billed)', t.parts, '']
    ].forEach(function (x) {
      var d = document.createElement('div');
      d.className = 'tile';
      d.dataset.figure = x[0];
      var v = document.createElement('div'); v.className = 'value'; v.textContent = String(x[1]);
      var l = document.createElement('div'); l.className = 'label'; l.textContent = x[0];
      var r = document.createElement('div'); r.className = 'rate'; r.textContent = x[2];
      d.appendChild(v); d.appendChild(l); d.appendChild(r);
      box.appendChild(d);
    });
  }

  function draw(id, labels, rows, keys, horizontal) {
    if (state.charts[id]) { state.charts[id].destroy(); }
    state.charts[id] = new window.Chart($(id), {
      type: 'bar',
      data: {
        labels: labels,
        datasets: series.filter(function (s) { return keys.indexOf(s.key) >= 0; }).map(function (s) {
          return { label: s.label, backgroundColor: s.color, data: rows.map(function (r) { return r[s.key]; }) };
        })
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: horizontal ? 'y' : 'x',
        scales: { x: { beginAtZero: true }, y: { beginAtZero: true } },
        plugins: { legend: { position: 'bottom' } }
      }
    });
  }

  function exports(name) {
    $('export-figures').href = url('/v1/stats/campaign.csv', { campaign: name });
    $('export-audit').href = url('/v1/stats/audit.csv', { campaign: name });
    $('export-audit-full').href = url('/v1/stats/audit.csv', { campaign: name, full: '1' });
    var picked = function (id) {
      return Array.prototype.filter.call($(id).options, function (o) { return o.selected; }).map(function (o) { return o.value; });
    };
    var extra = { campaign: name, reached: picked('reached'), not: picked('not-reached') };
    if ($('full-numbers').checked) { extra.full = '1'; }
    if ($('with-opted-out').checked) { extra.with_opted_out = '1'; }
    $('export-recipients').href = url('/v1/stats/recipients.csv', extra);
  }

  function show(name) {
    state.ready = false;
    return getJSON('/v1/stats/campaign', { campaign: name }).then(function (st) {
      state.campaign = name;
      state.figures = st;
      tiles(st.total);
      draw('chart-days', st.by_day.map(function (d) { return d.day; }), st.by_day,
        ['sent', 'delivered', 'not_delivered', 'clicked', 'replied', 'unsubscribed'], false);
      draw('chart-countries', st.by_country.map(function (c) { return c.country || '?'; }), st.by_country,
        ['sent', 'delivered', 'not_delivered', 'clicked'], true);
      exports(name);
      state.ready = true;
    });
  }

  function start() {
    ['reached', 'not-reached'].forEach(function (id) {
      outcomes.forEach(function (o) {
        var opt = document.createElement('option');
        opt.value = o;
        opt.textContent = o.replace('_', ' ');
        $(id).appendChild(opt);
      });
    });
    $('reached').options[outcomes.indexOf('delivered')].selected = true;
    $('not-reached').options[outcomes.indexOf('clicked')].selected = true;
    $('remarketing').addEventListener('change', function () { exports(state.campaign); });
    getJSON('/v1/stats/campaigns').then(function (res) {
      var sel = $('campaign');
      var list = res.campaigns || [];
      if (list.length === 0) { throw new Error('No campaign has sent messages from this HubSpot account yet.'); }
      list.forEach(function (c) {
        var opt = document.createElement('option');
        opt.value = c.name;
        opt.textContent = (c.name || '(no campaign)') + ' — ' + c.messages + ' messages';
        sel.appendChild(opt);
      });
      var wanted = page.get('campaign');
      sel.value = list.some(function (c) { return c.name === wanted; }) ? wanted : list[0].name;
      sel.addEventListener('change', function () { show(sel.value).catch(fail); });
      return show(sel.value);
    }).catch(fail);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
