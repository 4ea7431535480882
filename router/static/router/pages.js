// Optional: the list works without it (the server filters). With it, a choice applies at once
// and the search narrows the rows shown while typing.
(function () {
  var form = document.getElementById("filters");
  if (!form) return;
  form.querySelectorAll("select, input[type=checkbox]").forEach(function (control) {
    control.addEventListener("change", function () { form.requestSubmit(); });
  });
  var search = document.getElementById("q");
  var rows = document.querySelectorAll("table.models tbody tr");
  var count = document.getElementById("count");
  var total = count ? count.textContent.replace(/^\d+/, "") : "";
  search.addEventListener("input", function () {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var head = row.querySelector("th").textContent.toLowerCase();
      var match = words.every(function (word) { return head.indexOf(word) !== -1; });
      row.hidden = !match;
      if (match) shown += 1;
    });
    if (count) count.textContent = shown + total;
  });
})();
