// The manager's reports page, section "Lịch hẹn" (server/manager/templates/manager/_bookings.html):
// appointments per team and day for the report form's dates, loaded when the section is
// shown and on every "Xem báo cáo".
(function () {
  "use strict";
  var KEY = "qms.manager.token";
  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function viDay(d) { var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d || ""); return m ? m[3] + "/" + m[2] + "/" + m[1] : d; }
  function pct(v) { return v === null || v === undefined ? "–" : v + " %"; }
  function row(cells, cls) {
    return "<tr" + (cls ? ' class="' + cls + '"' : "") + ">" +
      cells.map(function (c) { return "<td>" + esc(c) + "</td>"; }).join("") + "</tr>";
  }
  function load() {
    var table = $("bookings-table"), token = sessionStorage.getItem(KEY);
    if (!table || !token) return;
    var p = new URLSearchParams({ from: ($("r-from") || {}).value || "", to: ($("r-to") || {}).value || "" });
    fetch("/api/v1/reports/bookings?" + p.toString(), { headers: { "Authorization": "Bearer " + token } })
      .then(function (res) { return res.json().then(function (b) { if (!res.ok) throw new Error((b.error && b.error.message) || res.status); return b; }); })
      .then(function (d) {
        var body = d.rows.map(function (r) {
          return row([viDay(r.day), r.team_name, r.booked, r.checked_in, r.late, r.no_show, r.cancelled, pct(r.punctuality)]);
        }).join("");
        if (!d.rows.length) body = '<tr><td colspan="8">Không có lịch hẹn trong khoảng này <small>no appointments</small></td></tr>';
        else body += row(["Tổng", "", d.total.booked, d.total.checked_in, d.total.late, d.total.no_show, d.total.cancelled, pct(d.total.punctuality)], "total");
        table.tBodies[0].innerHTML = body;
      })
      .catch(function (e) { table.tBodies[0].innerHTML = '<tr><td colspan="8">' + esc(e.message) + "</td></tr>"; });
  }
  document.addEventListener("submit", function (e) { if (e.target && e.target.id === "report-form") setTimeout(load, 0); });
  var sec = $("sec-bookings");
  if (sec && "IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (x) { return x.isIntersecting; })) load();
    }).observe(sec);
  }
  window.qmsLoadBookings = load;
})();
