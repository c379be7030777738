/* CSV upload with a progress bar: XHR upload events, then the per-row error report or a reload. */
(function () {
  "use strict";

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
  }

  function showErrors(target, body) {
    target.replaceChildren();
    const alert = document.createElement("div");
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    const count = body.error_count || body.errors.length;
    alert.innerHTML = "<strong>Nothing was imported:</strong> ";
    alert.append(count + " problem" + (count === 1 ? "" : "s") + " in the file" +
      (body.errors.length < count ? " (the first " + body.errors.length + " are shown)." : "."));
    target.appendChild(alert);
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    const table = document.createElement("table");
    table.className = "import-errors";
    table.innerHTML = '<thead><tr><th scope="col" class="number">Line</th><th scope="col">Column</th><th scope="col">Problem</th></tr></thead>';
    const tbody = document.createElement("tbody");
    body.errors.forEach(function (error) {
      const row = document.createElement("tr");
      cell(row, String(error.line), "number");
      cell(row, error.column || "—", "mono");
      cell(row, error.message);
      tbody.appendChild(row);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    target.appendChild(wrap);
  }

  function showMessage(target, text) {
    target.replaceChildren();
    const alert = document.createElement("div");
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    alert.textContent = text;
    target.appendChild(alert);
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches("form[data-upload]")) return;
    event.preventDefault();
    const result = document.getElementById("upload-result");
    const progressBox = form.querySelector(".upload-progress");
    const bar = progressBox.querySelector("progress");
    const button = form.querySelector('button[type="submit"]');
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (progress) {
      if (progress.lengthComputable) bar.value = Math.round((progress.loaded / progress.total) * 100);
    });
    xhr.upload.addEventListener("load", function () {
      progressBox.querySelector("label").textContent = "Checking and importing rows…";
      bar.removeAttribute("value"); // indeterminate while the server imports
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      progressBox.hidden = true;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (error) { body = null; }
      if (xhr.status === 200 && body) {
        window.location.reload();
      } else if (body && body.errors) {
        showErrors(result, body);
      } else if (body && body.form_errors) {
        showMessage(result, Object.values(body.form_errors).flat().map(function (e) { return e.message; }).join(" "));
      } else {
        showMessage(result, "The upload failed (HTTP " + xhr.status + "). Try again.");
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      progressBox.hidden = true;
      showMessage(result, "The upload failed: the connection was lost. Try again.");
    });
    button.disabled = true;
    bar.value = 0;
    progressBox.querySelector("label").textContent = "Uploading…";
    progressBox.hidden = false;
    result.replaceChildren();
    xhr.send(new FormData(form));
  });
})();
