/* The segment rule builder: draws the rule tree, keeps it in the hidden `rules` input as JSON,
   and shows the audience size (and any rule errors) as the rules change. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("builder-config").textContent);
  const root = document.getElementById("rule-builder");
  const hidden = document.getElementById("id_rules");
  const parentSelect = document.getElementById("id_parent_segment");
  const sizeOutput = document.getElementById("audience-size");
  const totalOutput = document.getElementById("audience-total");

  const OPERATOR_LABELS = {
    eq: "equals", ne: "does not equal", in: "is one of", not_in: "is not one of",
    gt: "is greater than", gte: "is at least", lt: "is less than", lte: "is at most",
    between: "is between", contains: "contains", starts_with: "starts with",
    is_null: "is empty", is_not_null: "is not empty", before: "is before", after: "is after",
    within_last_days: "is within the last … days",
  };
  const NO_VALUE = ["is_null", "is_not_null"];
  const LIST_VALUE = ["in", "not_in"];

  let tree = config.rules && typeof config.rules === "object" ? config.rules : {};
  if (!Array.isArray(tree.conditions)) tree = { type: "and", conditions: [] };
  let errors = config.errors || {};
  let uid = 0;

  function columns() {
    return config.columns_by_parent[parentSelect.value] || [];
  }
  function columnType(name) {
    const column = columns().find(function (c) { return c.name === name; });
    return column ? column.type : "string";
  }
  function operatorsFor(type) {
    return config.operators_by_type[type] || config.operators_by_type.string;
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(function ([key, value]) {
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function labelled(labelText, control, hideLabel) {
    const id = "rb-" + (++uid);
    control.id = id;
    const label = element("label", { for: id, text: labelText, className: hideLabel ? "visually-hidden" : "small" });
    return element("div", { className: "field", style: "margin:0" }, [label, control]);
  }

  function select(options, value, attributes) {
    const node = element("select", attributes || {});
    options.forEach(function ([optionValue, text]) {
      const option = element("option", { value: optionValue, text: text });
      if (String(optionValue) === String(value)) option.selected = true;
      node.appendChild(option);
    });
    return node;
  }

  // Messages for `path` itself, and for a condition, those of its column/operator/value too.
  function errorsAt(path, ownOnly) {
    const found = [];
    Object.entries(errors).forEach(function ([key, messages]) {
      const mine = key === path || (!ownOnly && path !== "" && (key.startsWith(path + ".") || key.startsWith(path + "[")));
      if (mine) messages.forEach(function (m) { found.push((key === path ? "" : key.slice(path.length + 1) + ": ") + m); });
    });
    return found;
  }

  // An empty slot for the messages of one path; paintErrors() fills every slot.
  function errorSlot(paths, ownOnly) {
    return element("ul", { className: "field-error rule-error", "data-error-paths": JSON.stringify(paths), "data-own": ownOnly ? "1" : "0" });
  }

  function paintErrors() {
    root.querySelectorAll("[data-error-paths]").forEach(function (slot) {
      const ownOnly = slot.dataset.own === "1";
      const messages = [];
      JSON.parse(slot.dataset.errorPaths).forEach(function (path) { messages.push.apply(messages, errorsAt(path, ownOnly)); });
      slot.replaceChildren();
      messages.forEach(function (m) { slot.appendChild(element("li", { text: m })); });
      slot.hidden = !messages.length;
      slot.setAttribute("role", messages.length ? "alert" : "none");
    });
  }

  // Text typed into an input, as the JSON value the column's type expects.
  function typed(text, type) {
    if (type === "integer" && /^[+-]?\d+$/.test(text.trim())) return parseInt(text, 10);
    if (type === "number" && text.trim() !== "" && !isNaN(Number(text))) return Number(text);
    if (type === "boolean") return text === "true" ? true : text === "false" ? false : text;
    return text;
  }

  function inputFor(type, value, onInput, labelText, path) {
    let control;
    if (type === "boolean") {
      control = select([["true", "true"], ["false", "false"]], value === false ? "false" : "true", { "data-path": path });
      onInput(control.value);
    } else {
      const inputType = { integer: "number", number: "number", date: "date", timestamp: "datetime-local" }[type] || "text";
      control = element("input", { type: inputType, step: type === "number" ? "any" : type === "timestamp" ? "1" : null, "data-path": path });
      control.value = value === undefined || value === null ? "" : String(value).replace(/Z$/, "");
    }
    control.addEventListener("input", function () { onInput(control.value); changed(false); });
    control.addEventListener("change", function () { onInput(control.value); changed(false); });
    return labelled(labelText, control, true);
  }

  function valueEditor(condition, path) {
    const type = columnType(condition.column);
    const operator = condition.operator;
    const box = element("div", { className: "rule-value" });
    if (NO_VALUE.includes(operator)) {
      delete condition.value;
      box.appendChild(element("span", { className: "muted small", text: "no value needed" }));
    } else if (operator === "within_last_days") {
      box.appendChild(inputFor("integer", condition.value, function (text) { condition.value = typed(text, "integer"); }, "Number of days", path + ".value"));
    } else if (operator === "between") {
      if (!Array.isArray(condition.value)) condition.value = ["", ""];
      const pair = element("div", { className: "between" });
      pair.appendChild(inputFor(type, condition.value[0], function (text) { condition.value[0] = typed(text, type); }, "From", path + ".value[0]"));
      pair.appendChild(element("span", { className: "muted", text: "and" }));
      pair.appendChild(inputFor(type, condition.value[1], function (text) { condition.value[1] = typed(text, type); }, "To", path + ".value[1]"));
      box.appendChild(pair);
    } else if (LIST_VALUE.includes(operator)) {
      if (!Array.isArray(condition.value)) condition.value = condition.value === undefined || condition.value === "" ? [] : [condition.value];
      const control = element("input", { type: "text", placeholder: "comma-separated values", "data-path": path + ".value" });
      control.value = condition.value.join(", ");
      const update = function () {
        condition.value = control.value.split(",").map(function (part) { return part.trim(); })
          .filter(function (part) { return part !== ""; }).map(function (part) { return typed(part, type); });
        changed(false);
      };
      control.addEventListener("input", update);
      box.appendChild(labelled("Values", control, true));
    } else {
      if (Array.isArray(condition.value)) condition.value = condition.value[0];
      box.appendChild(inputFor(type, condition.value, function (text) { condition.value = typed(text, type); }, "Value", path + ".value"));
    }
    return box;
  }

  function conditionNode(condition, path, parent, index) {
    const names = columns().map(function (c) { return [c.name, c.name + " (" + c.type + ")"]; });
    if (!condition.column && names.length) condition.column = names[0][0];
    if (condition.column && !names.some(function (n) { return n[0] === condition.column; })) {
      names.unshift([condition.column, condition.column + " (unknown)"]);
    }
    const operators = operatorsFor(columnType(condition.column));
    if (!operators.includes(condition.operator)) condition.operator = operators[0];

    const columnSelect = select(names, condition.column, { "data-path": path + ".column" });
    columnSelect.addEventListener("change", function () {
      condition.column = columnSelect.value;
      delete condition.value;
      changed(true);
    });
    const operatorSelect = select(operators.map(function (o) { return [o, OPERATOR_LABELS[o] || o]; }), condition.operator, { "data-path": path + ".operator" });
    operatorSelect.addEventListener("change", function () {
      condition.operator = operatorSelect.value;
      changed(true);
    });
    const remove = element("button", { type: "button", className: "btn btn-small btn-ghost", "aria-label": "Remove this condition", text: "✕", "data-path": path + ".remove" });
    remove.addEventListener("click", function () {
      parent.conditions.splice(index, 1);
      changed(true);
    });
    return element("div", { className: "rule-condition", "data-rule-path": path }, [
      labelled("Column", columnSelect, true),
      labelled("Operator", operatorSelect, true),
      valueEditor(condition, path),
      remove,
      errorSlot([path], false),
    ]);
  }

  function groupNode(group, path, parent, index) {
    const prefix = path === "" ? "" : path + ".";
    const typeSelect = select([["and", "all (AND)"], ["or", "any (OR)"]], group.type, { "data-path": prefix + "type" });
    typeSelect.addEventListener("change", function () { group.type = typeSelect.value; changed(true); });
    const head = element("div", { className: "rule-group-head" }, [
      element("span", { text: path === "" ? "Profiles that match" : "Match", className: "small" }),
      labelled(path === "" ? "Match all or any of the conditions" : "Match all or any in this group", typeSelect, true),
      element("span", { text: "of these conditions", className: "small" }),
    ]);
    if (parent) {
      const remove = element("button", { type: "button", className: "btn btn-small btn-ghost", text: "Remove group", "data-path": path + ".remove" });
      remove.addEventListener("click", function () { parent.conditions.splice(index, 1); changed(true); });
      head.appendChild(remove);
    }
    const children = element("div", { className: "rule-children" });
    group.conditions.forEach(function (child, childIndex) {
      const childPath = prefix + "conditions[" + childIndex + "]";
      children.appendChild(Array.isArray(child && child.conditions)
        ? groupNode(child, childPath, group, childIndex)
        : conditionNode(child, childPath, group, childIndex));
    });
    if (!group.conditions.length) {
      children.appendChild(element("p", { className: "muted small", text: group.type === "or" ? "No conditions: matches nobody." : "No conditions: matches every profile." }));
    }
    const addCondition = element("button", { type: "button", className: "btn btn-small", text: "+ Add condition", "data-path": prefix + "add-condition" });
    addCondition.addEventListener("click", function () {
      group.conditions.push({ column: "", operator: "", value: "" });
      changed(true, prefix + "conditions[" + (group.conditions.length - 1) + "].column");
    });
    const addGroup = element("button", { type: "button", className: "btn btn-small", text: "+ Add group", "data-path": prefix + "add-group" });
    addGroup.addEventListener("click", function () {
      group.conditions.push({ type: group.type === "and" ? "or" : "and", conditions: [{ column: "", operator: "", value: "" }] });
      changed(true, prefix + "conditions[" + (group.conditions.length - 1) + "].type");
    });
    return element("div", { className: "rule-group", role: "group", "aria-label": path === "" ? "Rules" : "Group of conditions" }, [
      head, errorSlot([path, prefix + "type", prefix + "conditions"], true), children, element("div", { className: "rule-buttons" }, [addCondition, addGroup]),
    ]);
  }

  function draw(focusPath) {
    const active = document.activeElement;
    const keep = focusPath || (active && root.contains(active) ? active.getAttribute("data-path") : null);
    root.replaceChildren(groupNode(tree, "", null, 0));
    if (keep) {
      const target = root.querySelector('[data-path="' + CSS.escape(keep) + '"]');
      if (target) target.focus();
    }
    paintErrors();
  }

  // An untouched condition (no column chosen) is never sent; a group left empty by that
  // goes too (the root stays).
  function isBlank(node) {
    return !Array.isArray(node.conditions) && !node.column;
  }
  function pruned(group, isRoot) {
    const conditions = group.conditions
      .map(function (node) { return Array.isArray(node.conditions) ? pruned(node, false) : node; })
      .filter(function (node) { return node && !isBlank(node); });
    if (!isRoot && !conditions.length) return null;
    return Object.assign({}, group, { conditions: conditions });
  }
  // The path of the first condition the user has not finished, or null.
  function unfinished(group, prefix) {
    for (let index = 0; index < group.conditions.length; index += 1) {
      const node = group.conditions[index];
      const path = prefix + "conditions[" + index + "]";
      if (Array.isArray(node.conditions)) {
        const inner = unfinished(node, path + ".");
        if (inner) return inner;
        continue;
      }
      const value = node.value;
      // Lists (is one of, between) are judged by the server, which says what they miss.
      const empty = value === "" || value === null || value === undefined;
      if (!node.column || !node.operator || (NO_VALUE.indexOf(node.operator) === -1 && empty)) return path;
    }
    return null;
  }

  let timer = null;
  let requestNumber = 0;
  function changed(structural, focusPath) {
    hidden.value = JSON.stringify(pruned(tree, true));
    if (structural) draw(focusPath);
    clearTimeout(timer);
    timer = setTimeout(function () { refreshSize(false); }, 350);
  }

  function refreshSize(initial) {
    const mine = ++requestNumber;
    root.querySelectorAll("[data-unfinished]").forEach(function (node) { node.remove(); });
    const open = unfinished(tree, "");
    if (open) {
      // A size of an incomplete rule would mislead (an empty condition matches nobody).
      sizeOutput.textContent = "—";
      totalOutput.textContent = "finish this condition to see the size";
      const slot = root.querySelector('[data-error-paths="' + CSS.escape(JSON.stringify([open])) + '"]');
      if (slot) {
        slot.parentElement.insertBefore(
          element("p", { className: "field-warning", text: "Finish this condition.", "data-unfinished": "1" }),
          slot
        );
      }
      return;
    }
    sizeOutput.textContent = "…";
    fetch(root.dataset.sizeUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value },
      body: JSON.stringify({ parent_segment: parentSelect.value, rules: tree }),
      credentials: "same-origin",
    }).then(function (response) { return response.json(); }).then(function (body) {
      if (mine !== requestNumber) return; // an answer to an older version of the rules
      const hadErrors = Object.keys(errors).length > 0;
      // On load, the server's errors from a refused save stay until the user changes something.
      if (!(initial && !body.errors)) errors = body.errors || {};
      if (body.errors) {
        sizeOutput.textContent = "—";
        totalOutput.textContent = "fix the rules to see the size";
      } else {
        sizeOutput.textContent = body.size.toLocaleString();
        totalOutput.textContent = "of " + body.total.toLocaleString() + " profiles";
      }
      if (hadErrors || body.errors) paintErrors();
    }).catch(function () {
      if (mine === requestNumber) sizeOutput.textContent = "?";
    });
  }

  parentSelect.addEventListener("change", function () { changed(true); });
  hidden.value = JSON.stringify(pruned(tree, true));
  draw();
  refreshSize(true);
})();
