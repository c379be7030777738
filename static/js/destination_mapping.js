/* The editor's destination side: the object and field pickers (from the connection's
   describe, cached on the server), Auto-map, required fields not mapped yet, type
   mismatches next to their rows, and "Check against Salesforce" before saving. */
(function () {
  "use strict";

  const form = document.getElementById("activation-form");
  if (!form) return;
  const connection = document.getElementById("id_connection");
  const objectInput = document.getElementById("id_object_name");
  const status = document.getElementById("destination-status");
  const columnsBox = document.getElementById("mapping-columns");
  const exportAll = document.getElementById("id_export_all_columns");
  const sourceData = document.getElementById("source-columns");
  const sourceTypes = {};
  JSON.parse(sourceData ? sourceData.textContent : "[]").forEach(function (column) {
    sourceTypes[column.name] = column.type;
  });
  let fields = [];
  let fieldsFor = "";

  function objectsUrl() {
    return form.dataset.objectsUrl.replace("/0/", "/" + encodeURIComponent(connection.value) + "/");
  }

  function fillOptions(list, items, text) {
    list.replaceChildren();
    items.forEach(function (item) {
      const option = document.createElement("option");
      option.value = item.name;
      option.label = text(item);
      list.appendChild(option);
    });
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(
      function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || "Salesforce did not answer.");
          return body;
        });
      }
    );
  }

  function loadObjects(refresh) {
    if (!connection.value) return Promise.resolve();
    status.textContent = "Loading the org's objects…";
    return getJson(objectsUrl() + (refresh ? "?refresh=1" : ""))
      .then(function (body) {
        fillOptions(document.getElementById("object-options"), body.objects, function (item) {
          return item.label + " (" + item.name + ")";
        });
        status.textContent = body.objects.length + " objects in the org.";
      })
      .catch(function (error) {
        status.textContent = "Could not list the objects: " + error.message;
      });
  }

  function loadFields(refresh) {
    const name = objectInput.value.trim();
    if (!connection.value || !name) {
      fields = [];
      fieldsFor = "";
      refreshHints();
      return Promise.resolve();
    }
    const version = (document.getElementById("id_api_version") || {}).value || "";
    const url = objectsUrl() + encodeURIComponent(name) + "/fields/?api_version=" +
      encodeURIComponent(version) + (refresh ? "&refresh=1" : "");
    return getJson(url)
      .then(function (body) {
        fields = body.fields;
        fieldsFor = name;
        fillOptions(document.getElementById("field-options"), fields, fieldText);
        status.textContent = fields.length + " fields of " + name + ".";
        refreshHints();
      })
      .catch(function (error) {
        fields = [];
        fieldsFor = "";
        document.getElementById("field-options").replaceChildren();
        status.textContent = error.message;
        refreshHints();
      });
  }

  function fieldText(field) {
    const flags = [field.type];
    if (field.required) flags.push("required");
    if (field.external_id) flags.push("External ID");
    return field.label + " · " + flags.join(" · ");
  }

  function fieldNamed(name) {
    const lower = (name || "").toLowerCase();
    return fields.find(function (field) { return field.name.toLowerCase() === lower; });
  }

  function normalise(text) {
    return (text || "").toLowerCase().replace(/__c$/, "").replace(/[^a-z0-9]/g, "");
  }

  function inserting() {
    const mode = form.elements.mode.value;
    return mode === "append" || mode === "truncate" || (mode === "update" && form.elements.upsert.checked);
  }

  function outputs() {
    const names = [];
    if (exportAll.checked) names.push.apply(names, Object.keys(sourceTypes));
    else columnsBox.querySelectorAll("[data-column-output]").forEach(function (input) {
      if (input.value.trim()) names.push(input.value.trim());
    });
    form.querySelectorAll("[data-string-output]").forEach(function (input) {
      if (input.value.trim()) names.push(input.value.trim());
    });
    return names.map(function (name) { return name.toLowerCase(); });
  }

  function setList(node, messages) {
    node.replaceChildren();
    messages.forEach(function (message) {
      const item = document.createElement("li");
      item.textContent = message;
      node.appendChild(item);
    });
    node.hidden = !messages.length;
  }

  // Field facts and type mismatches next to each row; required fields not yet mapped.
  function refreshHints() {
    const known = fields.length > 0;
    columnsBox.querySelectorAll("[data-column-row]").forEach(function (row) {
      const output = row.querySelector("[data-column-output]").value.trim();
      const source = row.querySelector("[data-column-source]").value;
      const info = row.querySelector("[data-field-info]");
      const warning = row.querySelector("[data-type-warning]");
      const field = known && output ? fieldNamed(output) : null;
      const problems = [];
      if (!known || !output) info.textContent = "";
      else if (output.includes(".")) info.textContent = "A parent record's field (relationship column).";
      else if (!field) {
        info.textContent = "";
        problems.push(fieldsFor + " has no field " + output + ".");
      }
      else {
        const flags = [field.type];
        if (field.required) flags.push("required");
        if (field.external_id) flags.push("External ID");
        info.textContent = field.label + " · " + flags.join(" · ");
        const type = sourceTypes[source];
        if (type && field.accepts.indexOf(type) === -1) {
          problems.push("Type mismatch: " + source + " is " + type + ", " + field.name + " is " + field.type + ".");
        }
      }
      setList(warning, problems);
    });

    const required = document.getElementById("required-fields");
    const mapped = outputs();
    const missing = known && inserting()
      ? fields.filter(function (field) { return field.required && mapped.indexOf(field.name.toLowerCase()) === -1; })
      : [];
    required.replaceChildren();
    if (missing.length) {
      const title = document.createElement("strong");
      title.textContent = "Required by " + fieldsFor + ", not mapped yet: ";
      required.appendChild(title);
      required.appendChild(document.createTextNode(missing.map(function (field) {
        return field.label + " (" + field.name + ")";
      }).join(", ")));
    }
    required.hidden = !missing.length;

    const unmatched = document.getElementById("export-all-unmatched");
    const names = Object.keys(sourceTypes).filter(function (name) { return !fieldNamed(name); });
    unmatched.textContent = known && exportAll.checked && names.length
      ? fieldsFor + " has no field named " + names.join(", ") + ": those columns would fail the run."
      : "";
    unmatched.hidden = !unmatched.textContent;
  }

  // Auto-map: each source column not mapped yet, to the field whose name or label matches.
  function autoMap() {
    if (!fields.length) {
      status.textContent = "Choose a connection and an object first.";
      return;
    }
    if (exportAll.checked) {
      exportAll.checked = false;
      exportAll.dispatchEvent(new Event("change", { bubbles: true }));
    }
    const used = {};
    const mappedSources = {};
    columnsBox.querySelectorAll("[data-column-row]").forEach(function (row) {
      used[row.querySelector("[data-column-output]").value.trim().toLowerCase()] = true;
      mappedSources[row.querySelector("[data-column-source]").value] = true;
    });
    let added = 0;
    Object.keys(sourceTypes).forEach(function (source) {
      if (mappedSources[source]) return;
      const wanted = normalise(source);
      const field = fields.find(function (candidate) {
        return !used[candidate.name.toLowerCase()] &&
          (normalise(candidate.name) === wanted || normalise(candidate.label) === wanted);
      });
      if (!field) return;
      used[field.name.toLowerCase()] = true;
      const template = document.getElementById("column-row-template");
      const row = template.content.firstElementChild.cloneNode(true);
      row.removeAttribute("data-untouched");
      row.querySelector("[data-column-source]").value = source;
      const output = row.querySelector("[data-column-output]");
      output.value = field.name;
      if (field.name !== source) output.setAttribute("data-edited", "");
      columnsBox.appendChild(row);
      added += 1;
    });
    status.textContent = added ? "Auto-map added " + added + " column" + (added === 1 ? "" : "s") + "." : "Auto-map found no more matches.";
    columnsBox.dispatchEvent(new Event("rows-changed", { bubbles: true }));
    refreshHints();
  }

  // ---- Check against Salesforce: every problem next to its field. ----
  function slotFor(key) {
    const match = /^output_mapping\.(columns|strings)\[(\d+)\]/.exec(key);
    let container = null;
    if (match) {
      const rows = match[1] === "columns"
        ? columnsBox.querySelectorAll("[data-column-row]")
        : form.querySelectorAll("[data-string-column]");
      const row = rows[Number(match[2])];
      if (row) container = row.querySelector(match[1] === "columns" ? "[data-column-output]" : "[data-string-output]");
    } else if (key === "export_all_columns") {
      container = exportAll;
    } else {
      container = form.elements[key] && form.elements[key].nodeType ? form.elements[key] : null;
    }
    return container ? container.closest(".field") || container.parentElement : null;
  }

  function showProblems(result) {
    form.querySelectorAll("[data-check-problem]").forEach(function (node) { node.remove(); });
    const box = document.getElementById("check-result");
    const elsewhere = [];
    let count = 0;
    Object.keys(result.problems).forEach(function (key) {
      const messages = result.problems[key];
      count += messages.length;
      const field = slotFor(key);
      if (!field) { elsewhere.push.apply(elsewhere, messages); return; }
      const list = document.createElement("ul");
      list.className = "field-error";
      list.setAttribute("data-check-problem", "");
      list.setAttribute("role", "alert");
      messages.forEach(function (message) {
        const item = document.createElement("li");
        item.textContent = message;
        list.appendChild(item);
      });
      field.appendChild(list);
    });
    box.replaceChildren();
    const summary = document.createElement("p");
    summary.className = count ? "field-error" : "field-ok";
    summary.textContent = count
      ? count + " problem" + (count === 1 ? "" : "s") + " found; each is shown next to its field." + (elsewhere.length ? " " + elsewhere.join(" ") : "")
      : (result.destination_checked ? "✓ Salesforce accepts these settings and columns." : "No problems found.");
    box.appendChild(summary);
    return count;
  }

  function check() {
    const box = document.getElementById("check-result");
    box.textContent = "Checking against Salesforce…";
    const data = new FormData(form);
    return fetch(form.dataset.checkUrl, {
      method: "POST",
      body: data,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) throw new Error("The check failed (HTTP " + response.status + ").");
      return response.json();
    }).then(function (result) {
      return { count: showProblems(result), destination: result.destination_checked };
    }).catch(function (error) {
      box.textContent = error.message;
      return { count: 0, destination: false };
    });
  }

  // Saving checks first; with problems the user sees them and chooses "Save anyway".
  let confirmed = false;
  form.addEventListener("submit", function (event) {
    // Without the object's fields the destination could not answer (the status says why):
    // the server still checks the form itself.
    if (confirmed || !fieldsFor) return;
    event.preventDefault();
    const submitter = event.submitter;
    check().then(function (outcome) {
      // The form's own errors are drawn by the server, in place, as before; only problems
      // that the destination found (the settings are valid) hold the save for a choice.
      if (outcome.count === 0 || !outcome.destination) {
        confirmed = true;
        form.requestSubmit(submitter);
        return;
      }
      const box = document.getElementById("check-result");
      const anyway = document.createElement("button");
      anyway.type = "button";
      anyway.className = "btn btn-small";
      anyway.id = "save-anyway";
      anyway.textContent = "Save anyway";
      anyway.addEventListener("click", function () {
        confirmed = true;
        form.requestSubmit(submitter);
      });
      box.appendChild(anyway);
    });
  });

  document.getElementById("check-activation").addEventListener("click", function () { check(); });
  document.getElementById("auto-map").addEventListener("click", autoMap);
  document.getElementById("refresh-destination").addEventListener("click", function () {
    loadObjects(true).then(function () { return loadFields(true); });
  });
  connection.addEventListener("change", function () { loadObjects(false); loadFields(false); });
  objectInput.addEventListener("change", function () { loadFields(false); });
  form.addEventListener("input", function (event) {
    if (event.target.closest("[data-column-output], [data-string-output]")) refreshHints();
  });
  form.addEventListener("change", function (event) {
    const row = event.target.closest("[data-column-row]");
    if (row) row.removeAttribute("data-untouched");
    refreshHints();
  });
  form.addEventListener("rows-changed", refreshHints);
  loadObjects(false);
  loadFields(false);
})();
