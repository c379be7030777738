/* Small behaviours shared by every page: menus (button and right-click), submit-on-change. */
(function () {
  "use strict";

  let openMenu = null;

  function menuItems(menu) {
    return Array.from(menu.querySelectorAll('[role="menuitem"]'));
  }

  function closeMenu(returnFocus) {
    if (!openMenu) return;
    const { menu, button } = openMenu;
    menu.hidden = true;
    menu.style.position = "";
    menu.style.left = "";
    menu.style.top = "";
    menu.style.right = "";
    if (button) button.setAttribute("aria-expanded", "false");
    if (returnFocus && button) button.focus();
    openMenu = null;
  }

  function showMenu(menu, button, point) {
    closeMenu(false);
    menu.hidden = false;
    if (point) {
      // A context menu opens where the pointer is, kept inside the viewport.
      menu.style.position = "fixed";
      menu.style.right = "auto";
      const width = menu.offsetWidth;
      const height = menu.offsetHeight;
      menu.style.left = Math.min(point.x, window.innerWidth - width - 8) + "px";
      menu.style.top = Math.min(point.y, window.innerHeight - height - 8) + "px";
    }
    if (button) button.setAttribute("aria-expanded", "true");
    openMenu = { menu, button };
    const first = menuItems(menu)[0];
    if (first) first.focus();
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-menu-button]");
    if (button) {
      const menu = document.getElementById(button.getAttribute("aria-controls"));
      if (openMenu && openMenu.menu === menu) {
        closeMenu(false);
      } else {
        showMenu(menu, button, null);
      }
      event.preventDefault();
      return;
    }
    if (openMenu && !openMenu.menu.contains(event.target)) closeMenu(false);
    // Close the user menu (a <details>) when clicking elsewhere.
    document.querySelectorAll("details.usermenu[open]").forEach(function (details) {
      if (!details.contains(event.target)) details.open = false;
    });
  });

  // Right click on a segment (or any element naming a menu) opens that menu at the pointer.
  document.addEventListener("contextmenu", function (event) {
    const target = event.target.closest("[data-context-menu]");
    if (!target) return;
    const menu = document.getElementById(target.dataset.contextMenu);
    if (!menu) return;
    event.preventDefault();
    const button = document.querySelector('[aria-controls="' + menu.id + '"]');
    showMenu(menu, button, { x: event.clientX, y: event.clientY });
  });

  document.addEventListener("keydown", function (event) {
    if (!openMenu) return;
    const items = menuItems(openMenu.menu);
    const index = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      closeMenu(true);
      event.preventDefault();
    } else if (event.key === "ArrowDown") {
      items[(index + 1) % items.length].focus();
      event.preventDefault();
    } else if (event.key === "ArrowUp") {
      items[(index - 1 + items.length) % items.length].focus();
      event.preventDefault();
    } else if (event.key === "Tab") {
      closeMenu(false);
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-submit-on-change]")) event.target.form.submit();
  });

  window.addEventListener("scroll", function () { if (openMenu && openMenu.menu.style.position === "fixed") closeMenu(false); }, { passive: true });
})();

/* Repeatable rows: a button adds a copy of a <template> to a container; ✕ removes its row. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const template = document.getElementById(add.dataset.addRow);
      const rows = document.getElementById(add.dataset.rows);
      const fragment = template.content.cloneNode(true);
      const row = fragment.firstElementChild;
      rows.appendChild(fragment);
      const first = row.querySelector("input, select");
      if (first) first.focus();
      rows.dispatchEvent(new Event("rows-changed", { bubbles: true }));
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      const row = remove.closest("[data-row]");
      const container = row.parentElement;
      row.remove();
      container.dispatchEvent(new Event("rows-changed", { bubbles: true }));
    }
  });
})();

/* Fields that apply only to some choices: data-show-when="mode=update", "schedule_type!=none",
   "export_all_columns=off" (checkboxes read as on/off). Hidden fields are still posted. */
(function () {
  "use strict";
  function valueOf(form, name) {
    const input = form.elements[name];
    if (!input) return "";
    if (input.type === "checkbox") return input.checked ? "on" : "off";
    return input.value;
  }
  function update(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (node) {
      const rule = node.dataset.showWhen;
      const negate = rule.includes("!=");
      const [name, wanted] = rule.split(negate ? "!=" : "=");
      const matches = wanted.split("|").includes(valueOf(form, name));
      node.hidden = negate ? matches : !matches;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.form) update(event.target.form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(update);
  });
  // Forms that arrive later (the connection dialog) are set up when htmx adds them.
  document.addEventListener("htmx:load", function (event) {
    const root = event.detail.elt;
    if (root.matches && root.matches("form")) update(root);
    if (root.querySelectorAll) root.querySelectorAll("form").forEach(update);
  });
})();

/* A table wider than its box scrolls sideways; keyboard users must be able to reach and
   scroll it, so such a box becomes a focusable, named region. */
(function () {
  "use strict";
  function markScrollable(root) {
    (root.querySelectorAll ? root : document).querySelectorAll(".table-wrap").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label")) {
          const caption = box.querySelector("caption");
          const section = box.closest("section");
          const heading = section && section.querySelector("h2, h3");
          box.setAttribute("aria-label", (caption || heading || { textContent: "Table" }).textContent.trim() + " (scrolls sideways)");
        }
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { markScrollable(document); });
  document.addEventListener("htmx:load", function (event) { markScrollable(event.detail.elt.parentElement || document); });
  window.addEventListener("resize", function () { markScrollable(document); });
})();

/* Times: the server writes UTC (`<time datetime data-local>`); the browser shows them in the
   user's own time zone, with its name, and says so where a table announces "Times in UTC". */
(function () {
  "use strict";
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { zone = ""; }
  const formats = {
    datetime: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" },
    time: { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" },
    minute: { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" },
  };
  function localize(root) {
    if (!zone) return;
    (root.querySelectorAll ? root : document).querySelectorAll("time[data-local]").forEach(function (node) {
      const moment = new Date(node.getAttribute("datetime"));
      if (isNaN(moment.getTime())) return;
      const options = formats[node.dataset.local] || formats.datetime;
      node.textContent = new Intl.DateTimeFormat(undefined, options).format(moment);
      node.title = moment.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    });
    (root.querySelectorAll ? root : document).querySelectorAll("[data-local-zone]").forEach(function (node) {
      node.textContent = "Times in your time zone (" + zone.replace(/_/g, " ") + ")";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:load", function (event) { localize(event.detail.elt); });

  // The current page's entry of a main navigation that scrolls sideways (phones) stays in view.
  document.addEventListener("DOMContentLoaded", function () {
    const current = document.querySelector('.mainnav [aria-current="page"]');
    if (current && current.parentElement.scrollWidth > current.parentElement.clientWidth) {
      current.parentElement.scrollLeft = current.offsetLeft - 8;
    }
  });
})();

/* A form the server refused: the first field marked wrong gets the focus, in the middle of
   the screen (clear of the sticky bars), so the user lands where the fix is. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const alert = document.querySelector("[data-form-errors]");
    const form = alert && alert.closest("form");
    if (!form) return;
    const field = Array.from(form.querySelectorAll(
      '[aria-invalid="true"], .has-error input:not([type=hidden]), .has-error select, .has-error textarea'
    )).find(function (node) { return node.offsetParent !== null; });
    if (!field) return;
    field.focus({ preventScroll: true });
    field.scrollIntoView({ block: "center" });
  });
})();
