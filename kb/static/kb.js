/* kb: small progressive enhancements; every page works without them. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  document.querySelectorAll("[data-print]").forEach(function (el) {
    el.addEventListener("click", function (ev) { ev.preventDefault(); window.print(); });
  });

  // Live preview: the server renders and checks, so preview equals what readers will see.
  var form = document.getElementById("article-form");
  if (form && form.dataset.preview) {
    var preview = document.getElementById("preview");
    var findings = document.getElementById("findings");
    var timer = null, seq = 0;
    var labels = { error: "错误", warning: "警告", hint: "提示" };
    var refresh = function () {
      var mine = ++seq;
      var data = new FormData(form);
      fetch(form.dataset.preview, { method: "POST", body: data, headers: { "X-CSRFToken": csrf },
        credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (out) {
          if (mine !== seq) return;
          if (out.error) { findings.textContent = out.error.message; return; }
          preview.innerHTML = out.html; // sanitised by the server's allow-list
          findings.textContent = "";
          if (!out.findings.length) { findings.textContent = "内容检查未发现问题。"; return; }
          var ul = document.createElement("ul"); ul.className = "findings";
          out.findings.forEach(function (f) {
            var li = document.createElement("li"); li.className = "finding " + f.severity;
            var where = f.where ? f.where + " " : "";  // the server's wording, as on the submit page
            li.textContent = "【" + labels[f.severity] + "】" + f.rule + " " + where + f.message +
              (f.fix ? "（建议：" + f.fix + "）" : "");
            ul.appendChild(li);
          });
          findings.appendChild(ul);
        })
        .catch(function () { findings.textContent = "预览暂时不可用，保存不受影响。"; });
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    refresh();
  }

  // Type-ahead: titles and products the reader may see, from /api/v1/suggest.
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    var box = document.createElement("ul"); box.className = "suggestions"; box.hidden = true;
    input.parentNode.appendChild(box);
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { box.hidden = true; return; }
      timer = setTimeout(function () {
        fetch("/api/v1/suggest?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (out) {
            box.textContent = "";
            (out.suggestions || []).forEach(function (s) {
              var li = document.createElement("li"), a = document.createElement("a");
              a.textContent = s.text;
              a.href = s.slug ? "/articles/" + encodeURIComponent(s.slug) : "/search?q=" + encodeURIComponent(s.text);
              li.appendChild(a); box.appendChild(li);
            });
            box.hidden = !box.children.length;
          }).catch(function () { box.hidden = true; });
      }, 200);
    });
    input.addEventListener("blur", function () { setTimeout(function () { box.hidden = true; }, 200); });
  });
})();
