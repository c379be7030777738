/* The activation editor: output-mapping rows and string-builder parts, live errors from the
   preview, and the "create new connection" dialog. Rows are plain inputs in page order, so
   the form posts (and is drawn again after an error) without any JSON of its own. */
(function () {
  "use strict";

  const form = document.getElementById("activation-form");
  const columnsBox = document.getElementById("mapping-columns");
  const stringsBox = document.getElementById("mapping-strings");
  let newKeys = 0;

  function rowsChanged(node) {
    node.dispatchEvent(new Event("rows-changed", { bubbles: true }));
  }

  // ---- Attribute columns: the output name follows the source until the user edits it. ----
  form.addEventListener("change", function (event) {
    const source = event.target.closest("[data-column-source]");
    if (!source) return;
    const output = source.closest("[data-column-row]").querySelector("[data-column-output]");
    if (!output.hasAttribute("data-edited") || output.value.trim() === "") {
      output.value = source.value;
      output.removeAttribute("data-edited");
    }
  });
  form.addEventListener("input", function (event) {
    const output = event.target.closest("[data-column-output]");
    if (!output) return;
    const source = output.closest("[data-column-row]").querySelector("[data-column-source]");
    if (output.value.trim() !== "" && output.value !== source.value) output.setAttribute("data-edited", "");
    else output.removeAttribute("data-edited");
  });

  // ---- String Builder ----
  function cloneWithKey(templateId, key) {
    const template = document.getElementById(templateId);
    const node = template.content.firstElementChild.cloneNode(true);
    node.querySelectorAll("[name]").forEach(function (input) {
      input.name = input.name.replace("__key__", key);
      if (input.value === "__key__") input.value = key;
    });
    if (node.dataset.key === "__key__") node.dataset.key = key;
    return node;
  }

  function addPart(column, type) {
    const part = cloneWithKey("part-template", column.dataset.key);
    if (type) part.querySelector("[data-part-type]").value = type;
    column.querySelector("[data-parts]").appendChild(part);
    showPartFields(part);
    return part;
  }

  function showPartFields(part) {
    const type = part.querySelector("[data-part-type]").value;
    part.querySelector("[data-part-value]").hidden = type !== "string";
    part.querySelector("[data-part-format]").hidden = type !== "timestamp";
    part.querySelector("[data-part-timezone]").hidden = type !== "timestamp";
    part.querySelector("[data-part-note]").hidden = type === "string" || type === "timestamp";
  }

  form.addEventListener("change", function (event) {
    const type = event.target.closest("[data-part-type]");
    if (type) showPartFields(type.closest("[data-part]"));
  });

  form.addEventListener("click", function (event) {
    if (event.target.closest("[data-add-string]")) {
      const key = "n" + Date.now().toString(36) + (++newKeys);
      const column = cloneWithKey("string-template", key);
      stringsBox.appendChild(column);
      addPart(column, "string");
      column.querySelector("[data-string-output]").focus();
      rowsChanged(stringsBox);
      return;
    }
    const addPartButton = event.target.closest("[data-add-part]");
    if (addPartButton) {
      const part = addPart(addPartButton.closest("[data-string-column]"), null);
      part.querySelector("[data-part-type]").focus();
      rowsChanged(part);
      return;
    }
    const move = event.target.closest("[data-move-part]");
    if (move) {
      const part = move.closest("[data-part]");
      if (move.dataset.movePart === "up" && part.previousElementSibling) {
        part.parentElement.insertBefore(part, part.previousElementSibling);
      } else if (move.dataset.movePart === "down" && part.nextElementSibling) {
        part.parentElement.insertBefore(part.nextElementSibling, part);
      }
      move.focus();
      rowsChanged(part);
      return;
    }
    const removePart = event.target.closest("[data-remove-part]");
    if (removePart) {
      const part = removePart.closest("[data-part]");
      const list = part.parentElement;
      const next = part.nextElementSibling || part.previousElementSibling;
      part.remove();
      const focusTarget = next ? next.querySelector("[data-remove-part]") : list.parentElement.querySelector("[data-add-part]");
      focusTarget.focus();
      rowsChanged(list);
    }
  });

  // ---- Live errors: the preview's errors, drawn next to the rows they name. ----
  function paint(slot, messages) {
    if (!slot) return;
    slot.replaceChildren();
    (messages || []).forEach(function (message) {
      const item = document.createElement("li");
      item.textContent = message;
      slot.appendChild(item);
    });
    slot.hidden = !messages || !messages.length;
    if (messages && messages.length) slot.setAttribute("role", "alert"); else slot.removeAttribute("role");
    const field = slot.closest(".field");
    if (field) {
      field.classList.toggle("has-error", !slot.hidden);
      const input = field.querySelector("input, select");
      if (input) {
        if (slot.hidden) input.removeAttribute("aria-invalid"); else input.setAttribute("aria-invalid", "true");
      }
    }
  }

  function slotIn(node, name) {
    return Array.from(node.querySelectorAll('[data-error-slot="' + name + '"]')).find(function (slot) {
      // A string column's own slots, not those of its parts.
      return !slot.closest("[data-part]") || node.matches("[data-part]");
    });
  }

  function paintMappingErrors(errors) {
    const exportAll = document.getElementById("id_export_all_columns").checked;
    columnsBox.querySelectorAll("[data-column-row]").forEach(function (row, index) {
      const base = "output_mapping.columns[" + index + "]";
      // A row just added says nothing until the user has chosen something in it.
      const quiet = exportAll || row.hasAttribute("data-untouched");
      paint(slotIn(row, "source"), quiet ? [] : (errors[base + ".source"] || []));
      paint(slotIn(row, "output"), quiet ? [] : (errors[base + ".output"] || []).concat(errors[base] || []));
    });
    stringsBox.querySelectorAll("[data-string-column]").forEach(function (column, index) {
      const base = "output_mapping.strings[" + index + "]";
      paint(slotIn(column, "output"), errors[base + ".output"] || []);
      paint(slotIn(column, "parts"), (errors[base + ".parts"] || []).concat(errors[base] || []));
      column.querySelectorAll("[data-part]").forEach(function (part, partIndex) {
        const partBase = base + ".parts[" + partIndex + "]";
        paint(slotIn(part, "type"), (errors[partBase + ".type"] || []).concat(errors[partBase] || []));
        paint(slotIn(part, "value"), errors[partBase + ".value"] || []);
        paint(slotIn(part, "format"), errors[partBase + ".format"] || []);
        paint(slotIn(part, "timezone"), errors[partBase + ".timezone"] || []);
      });
    });
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "mapping-preview") {
      const data = document.getElementById("preview-errors");
      paintMappingErrors(data ? JSON.parse(data.textContent) : {});
    }
    if (event.detail.target.id === "connection-dialog-body") {
      const dialog = document.getElementById("connection-dialog");
      if (!dialog.open) dialog.showModal();
      const first = dialog.querySelector("input:not([type=hidden])");
      if (first) first.focus();
    }
  });

  // ---- "Create new connection": the dialog's form announces the saved connection. ----
  document.body.addEventListener("connectionCreated", function (event) {
    const select = document.getElementById("id_connection");
    const option = new Option(event.detail.name, event.detail.id, true, true);
    select.appendChild(option);
    select.value = String(event.detail.id);
    select.dispatchEvent(new Event("change", { bubbles: true }));
    document.getElementById("connection-dialog").close();
    document.getElementById("connection-test-result").textContent = "Connection “" + event.detail.name + "” created and selected.";
    select.focus();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-dialog]")) event.target.closest("dialog").close();
  });
})();

/* A new activation's schedule starts in the browser's time zone rather than UTC. */
(function () {
  "use strict";
  const form = document.getElementById("activation-form");
  if (!form || !form.hasAttribute("data-suggest-timezone")) return;
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { return; }
  const select = document.getElementById("id_timezone");
  if (!zone || !select || select.value === zone) return;
  if (!Array.from(select.options).some(function (option) { return option.value === zone; })) return;
  select.value = zone;
  // The schedule preview listens for this change once htmx has set the page up.
  function announce() { select.dispatchEvent(new Event("change", { bubbles: true })); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setTimeout(announce, 0); });
  } else {
    announce();
  }
})();
