// The manager's reports page, section "Theo bước của hồ sơ" (server/manager/templates/manager/
// _steps.html): every step's figures of the visits of several steps under one number
// (issue #15) for the report form's dates; loaded when the section is shown and on every
// "Xem báo cáo".
(function () {
  "use strict";
  var KEY = "qms.manager.token";
  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function dur(s) {
    if (s === null || s === undefined) return "–";
    var m = Math.floor(s / 60), r = Math.round(s % 60);
    return m + ":" + (r < 10 ? "0" : "") + r;
  }
  function row(cells) {
    return "<tr>" + cells.map(function (c) { return "<td>" + esc(c) + "</td>"; }).join("") + "</tr>";
  }
  function load() {
    var table = $("steps-table"), token = sessionStorage.getItem(KEY);
    if (!table || !token) return;
    var p = new URLSearchParams({ from: ($("r-from") || {}).value || "", to: ($("r-to") || {}).value || "" });
    fetch("/api/v1/reports/steps?" + p.toString(), { headers: { "Authorization": "Bearer " + token } })
      .then(function (res) { return res.json().then(function (b) { if (!res.ok) throw new Error((b.error && b.error.message) || res.status); return b; }); })
      .then(function (d) {
        $("steps-note").textContent = d.visits + " lượt hồ sơ qua nhiều bước (visits of several steps)";
        var body = d.rows.map(function (r) {
          return row(["Bước " + r.step_index + " · " + r.step_name, r.team, r.arrived, r.served,
                      r.moved_on, r.no_show, r.open, dur(r.wait_s.mean), dur(r.wait_s.p90),
                      dur(r.service_s.mean), dur(r.service_s.p90)]);
        }).join("");
        if (!d.rows.length) body = '<tr><td colspan="11">Không có hồ sơ nhiều bước trong khoảng này <small>no visits of several steps</small></td></tr>';
        table.tBodies[0].innerHTML = body;
        table.dataset.loaded = "1";
      })
      .catch(function (e) { table.tBodies[0].innerHTML = '<tr><td colspan="11">' + esc(e.message) + "</td></tr>"; });
  }
  document.addEventListener("submit", function (e) { if (e.target && e.target.id === "report-form") setTimeout(load, 0); });
  var sec = $("sec-steps");
  if (sec && "IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (x) { return x.isIntersecting; })) load();
    }).observe(sec);
  }
  window.qmsLoadSteps = load;
})();
