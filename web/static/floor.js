// The floor view keeps itself current: it polls /api/live and /api/alerts every few
// seconds (live), or asks them for the instant the date and slider choose (replay).
// Data is only ever put into the page with textContent, never innerHTML.
(function () {
  "use strict";
  var root = document.getElementById("floor");
  if (!root) { return; }
  var cfg = JSON.parse(root.dataset.client);
  var W = cfg.words;
  var N = cfg.names;
  var replayAt = cfg.replay ? cfg.at : null; // null: live
  var timer = null;
  var seq = 0; // answers to an older request are dropped

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  // The API's instants carry the hall's offset, so their text is hall wall-clock time.
  function clock(iso) { return iso ? iso.slice(11, 16) : ""; }

  function card(w) {
    var a = el("article", "win " + w.state);
    if (w.position) { a.dataset.row = w.position[0]; a.dataset.col = w.position[1]; }
    var name = el("h3", "name");
    var link = el("a", null, w.name);
    link.href = cfg.window_url.replace("__ID__", encodeURIComponent(w.id));
    name.appendChild(link);
    a.appendChild(name);
    a.appendChild(el("p", "dept", N.departments[w.department] || w.department));
    var state = el("p", "state");
    var icon = el("span", "icon", W.icons[w.state] || "?");
    icon.setAttribute("aria-hidden", "true");
    state.appendChild(icon);
    state.appendChild(document.createTextNode(" " + (W.states[w.state] || w.state)));
    a.appendChild(state);
    a.appendChild(el("p", "since", W.since + " " + clock(w.since)));
    var pending = (cfg.pending_leave || {})[w.id];
    if (pending) { a.appendChild(el("p", "pending-leave", cfg.pending_word + ": " + pending.join("、"))); }
    var people = el("ul", "people");
    w.signed_in.forEach(function (s) {
      var li = el("li", null, s.name + " ");
      li.appendChild(el("span", "small", clock(s.since)));
      people.appendChild(li);
    });
    if (!w.signed_in.length) { people.appendChild(el("li", "nobody", W.nobody)); }
    a.appendChild(people);
    return a;
  }

  // Grid placement through the CSSOM (the policy forbids style= attributes in markup).
  function place(grid) {
    var cols = 0;
    Array.prototype.forEach.call(grid.children, function (c) {
      if (!c.dataset.row) { return; }
      c.style.gridRow = c.dataset.row;
      c.style.gridColumn = c.dataset.col;
      cols = Math.max(cols, Number(c.dataset.col));
    });
    if (cols) { grid.style.gridTemplateColumns = "repeat(" + cols + ", minmax(0, 1fr))"; }
  }

  function renderLive(live) {
    var placed = live.windows.filter(function (w) { return w.position; });
    placed.sort(function (a, b) {
      return a.position[0] - b.position[0] || a.position[1] - b.position[1];
    });
    var unplaced = live.windows.filter(function (w) { return !w.position; });
    var grid = document.getElementById("grid");
    grid.replaceChildren.apply(grid, placed.map(card));
    place(grid);
    var rest = document.getElementById("unplaced");
    rest.replaceChildren.apply(rest, unplaced.map(card));
    document.getElementById("unplaced-title").hidden = !unplaced.length;
    Object.keys(live.counts).forEach(function (k) {
      var b = root.querySelector('[data-count="' + k + '"]');
      if (b) { b.textContent = live.counts[k]; }
    });
    document.getElementById("at").textContent = live.at.slice(0, 10) + " " + live.at.slice(11, 19);
    document.getElementById("at-label").textContent = replayAt ? W.replay : W.live;
    var warnings = document.getElementById("warnings");
    warnings.replaceChildren.apply(warnings, (live.warnings || []).map(function (t) {
      return el("li", "error", "⚠ " + t);
    }));
  }

  function renderAlerts(alerts) {
    var list = document.getElementById("alerts");
    var items = alerts.map(function (a) {
      var li = el("li", "alert " + a.kind);
      li.appendChild(el("b", "kind", W.kinds[a.kind] || a.kind));
      var who = [N.windows[a.window] || a.window, N.staff[a.staff] || a.staff];
      if (a.kind === "device_offline") { who.push(a.device); }
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", "who", who.filter(Boolean).join(" ")));
      li.appendChild(el("span", "since", W.since + " " + clock(a.since || a.opened_at)));
      return li;
    });
    if (!items.length) { items = [el("li", "none", W.no_alerts)]; }
    list.replaceChildren.apply(list, items);
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); } // session over: to the login
        if (!r.ok) { throw new Error(url + " answered " + r.status); }
        return r.json();
      });
  }

  function openAt(iso) {
    var t = Date.parse(iso);
    return function (a) {
      return Date.parse(a.opened_at) <= t && (!a.resolved_at || Date.parse(a.resolved_at) > t);
    };
  }

  function refresh() {
    var mine = ++seq;
    var live = cfg.live, alerts = cfg.alerts + "?status=open";
    if (replayAt) {
      var since = new Date(Date.parse(replayAt) - cfg.replay_lookback_days * 864e5);
      live += "?at=" + encodeURIComponent(replayAt);
      alerts = cfg.alerts + "?status=all&since=" + encodeURIComponent(since.toISOString());
    }
    return Promise.all([getJSON(live), getJSON(alerts)]).then(function (answers) {
      if (mine !== seq) { return; }
      renderLive(answers[0]);
      renderAlerts(replayAt ? answers[1].filter(openAt(answers[0].at)) : answers[1]);
      root.classList.remove("stale");
      document.getElementById("stale").hidden = true;
    }).catch(function () {
      if (mine !== seq) { return; }
      root.classList.add("stale");
      document.getElementById("stale").hidden = false;
    });
  }

  function poll() {
    refresh().then(function () {
      if (!replayAt) { timer = window.setTimeout(poll, cfg.poll_ms); }
    });
  }

  // The chosen day and minute as hall wall-clock time without an offset (the server reads
  // such a time in the hall's zone); minute 1440 is the next day's 00:00.
  function instant(day, minute) {
    var d = new Date(Date.parse(day + "T00:00:00Z") + minute * 6e4);
    return d.toISOString().slice(0, 16) + ":00";
  }

  var day = document.getElementById("replay-day");
  var minute = document.getElementById("replay-minute");
  var label = document.getElementById("replay-clock");
  var debounce = null;

  function showMinute() {
    var m = Number(minute.value);
    label.textContent = ("0" + Math.floor(m / 60)).slice(-2) + ":" + ("0" + (m % 60)).slice(-2);
  }

  function replay() {
    if (!day.value) { return; }
    window.clearTimeout(timer);
    replayAt = instant(day.value, Number(minute.value));
    var url = new URL(window.location.href);
    url.searchParams.set("at", replayAt);
    url.searchParams.delete("wall");
    window.history.replaceState(null, "", url);
    document.getElementById("back-live").hidden = false;
    refresh();
  }

  if (day && minute) {
    minute.addEventListener("input", function () {
      showMinute();
      window.clearTimeout(debounce);
      debounce = window.setTimeout(replay, 150);
    });
    day.addEventListener("change", replay);
    document.getElementById("replay").addEventListener("submit", function (e) {
      e.preventDefault();
      replay();
    });
  }

  place(document.getElementById("grid"));
  if (!replayAt) { timer = window.setTimeout(poll, cfg.poll_ms); }
}());
