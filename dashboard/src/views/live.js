// Live usage: every 5 s, while the tab is visible and focus is not inside it, the usage section
// is replaced with a fresh server-rendered copy (data-live: its URL, carrying the page's range and
// filters). Only an answer marked x-fragment: usage is used, so an expired session's sign-in page
// never lands in the section. Without JavaScript the page is complete and a reload shows new data.
(function () {
  var section = document.getElementById('usage');
  if (!section || !window.fetch) return;
  var url = section.getAttribute('data-live');
  setInterval(function () {
    if (document.hidden || section.contains(document.activeElement)) return;
    fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } })
      .then(function (r) {
        return r.ok && r.headers.get('x-fragment') === 'usage' ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        var open = Array.prototype.map.call(section.querySelectorAll('details[open]'), function (d) { return d.id; });
        section.innerHTML = html;
        open.forEach(function (id) {
          var d = document.getElementById(id);
          if (d) d.open = true;
        });
        section.setAttribute('data-refreshed', String(Date.now()));
      })
      .catch(function () {});
  }, 5000);
})();
