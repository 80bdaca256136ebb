// What CSS cannot do for keyboard and screen-reader users, for every page (served as a file: no inline script).
(function () {
  'use strict';

  // A table wider or taller than its box scrolls: make its scroll area a named, focusable region so a keyboard
  // can scroll it (axe scrollable-region-focusable), unless something inside can take focus already.
  function scrollAreas() {
    document.querySelectorAll('.q-table__middle, .cvms-scroll').forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      var focusable = box.querySelector('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])');
      if (scrolls && !focusable) {
        if (!box.hasAttribute('tabindex')) box.setAttribute('tabindex', '0');
        if (!box.hasAttribute('role')) box.setAttribute('role', 'region');
        if (!box.hasAttribute('aria-label')) box.setAttribute('aria-label', tableName(box));
      }
    });
  }

  function tableName(box) {
    var table = box.closest('.q-table__container');
    var title = table && table.querySelector('.q-table__title');
    if (title && title.textContent.trim()) return title.textContent.trim() + ' (scrolls)';
    return 'Table (scrolls)';
  }

  // Quasar's sortable column headers answer only to a mouse and do not say how the table is sorted: each gets a
  // button over it, named by the column (the WAI-ARIA sortable table: a button in the header; Enter or Space clicks
  // it and the click reaches Quasar's own on the header), and aria-sort on the header tells the current order.
  function sortableHeaders() {
    document.querySelectorAll('th.sortable').forEach(function (th) {
      var order = !th.classList.contains('sorted') ? 'none'
        : (th.classList.contains('sort-desc') ? 'descending' : 'ascending');
      if (th.getAttribute('aria-sort') !== order) th.setAttribute('aria-sort', order);
      if (th.querySelector(':scope > .cvms-sort')) return;
      var label = th.cloneNode(true);
      label.querySelectorAll('.q-icon').forEach(function (icon) { icon.remove(); });  // "arrow_upward" ligatures
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'cvms-sort';
      button.setAttribute('aria-label', label.textContent.trim());
      th.appendChild(button);
    });
  }

  // Quasar's file picker is an unnamed file input inside a button (axe label, nested-interactive): the input
  // becomes the one control, named by the uploader's title, and the button around it mere presentation.
  function uploadInputs() {
    document.querySelectorAll('.q-uploader__input:not([data-cvms-named])').forEach(function (input) {
      var uploader = input.closest('.q-uploader');
      var title = uploader && uploader.querySelector('.q-uploader__title');
      input.setAttribute('aria-label', (title && title.textContent.trim()) || 'Choose a file');
      input.setAttribute('tabindex', '0');
      input.setAttribute('data-cvms-named', '');
      var button = input.closest('[role="button"]');
      if (button) {
        button.setAttribute('role', 'presentation');
        button.removeAttribute('tabindex');
      }
    });
  }

  // An upload area's message (why a file was refused) describes its file input: components/uploads.py puts
  // data-cvms-aria-describedby on the uploader's outer box, carried here to the input a screen reader is on.
  function uploadMessages() {
    document.querySelectorAll('.q-uploader[data-cvms-aria-describedby]').forEach(function (uploader) {
      var value = uploader.getAttribute('data-cvms-aria-describedby');
      uploader.querySelectorAll('.q-uploader__input').forEach(function (input) {
        if (input.getAttribute('aria-describedby') !== value) input.setAttribute('aria-describedby', value);
      });
    });
  }

  // A Quasar select keeps attributes on its outer <label>: components/error_summary.py gives it data-cvms-aria-*
  // (required, invalid, describedby), carried here to its combobox, where a screen reader reads them.
  var SELECT_STATES = ['required', 'invalid', 'describedby'];

  function selectStates() {
    document.querySelectorAll('.q-select').forEach(function (field) {
      var box = field.querySelector('[role="combobox"]');
      if (!box) return;
      SELECT_STATES.forEach(function (name) {
        var value = field.getAttribute('data-cvms-aria-' + name);
        if (value === null) {
          if (box.hasAttribute('data-cvms-set-' + name)) {
            box.removeAttribute('aria-' + name);
            box.removeAttribute('data-cvms-set-' + name);
          }
        } else if (box.getAttribute('aria-' + name) !== value) {
          box.setAttribute('aria-' + name, value);
          box.setAttribute('data-cvms-set-' + name, '');
        }
      });
    });
  }

  // Radio groups (Quasar's option groups, the desk's screening questions): one Tab stop per group, the chosen
  // answer or else the first (WAI-ARIA radio group); arrow keys move to the next answer and choose it (below).
  var RADIO_GROUP = '.q-option-group, [role="radiogroup"]';

  function radiosOf(group) {
    return Array.prototype.filter.call(group.querySelectorAll('[role="radio"]'), function (radio) {
      return radio.getAttribute('aria-disabled') !== 'true' && radio.closest(RADIO_GROUP) === group;
    });
  }

  function radioGroups() {
    document.querySelectorAll(RADIO_GROUP).forEach(function (group) {
      var radios = radiosOf(group);
      var chosen = radios.filter(function (radio) { return radio.getAttribute('aria-checked') === 'true'; })[0];
      radios.forEach(function (radio) {
        var stop = radio === (chosen || radios[0]) ? '0' : '-1';
        if (radio.getAttribute('tabindex') !== stop) radio.setAttribute('tabindex', stop);
      });
    });
  }

  document.addEventListener('keydown', function (event) {
    var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    var radio = step && event.target.closest && event.target.closest('[role="radio"]');
    var group = radio && radio.closest(RADIO_GROUP);
    if (!group) return;
    var radios = radiosOf(group);
    var at = radios.indexOf(radio);
    if (at < 0) return;
    event.preventDefault();
    var next = radios[(at + step + radios.length) % radios.length];
    next.click();
    next.focus();  // after the click: Quasar's click moves focus to a helper inside the radio
    radios.forEach(function (other) { other.setAttribute('tabindex', other === next ? '0' : '-1'); });
  });

  // After navigation the new page's heading takes focus (a screen reader reads where it is), unless the page put
  // focus on a control itself (autofocus).
  function focusHeading() {
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) return;
    if (location.hash) return;
    var heading = document.querySelector('main [role="heading"][aria-level="1"], main h1, [role="heading"][aria-level="1"]');
    if (!heading) return;
    if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }

  // Disclosure buttons (the header's "More"): aria-expanded and the panel's hidden attribute go together.
  function setOpen(button, open) {
    var panel = document.getElementById(button.getAttribute('aria-controls'));
    if (!panel) return;
    button.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (open) panel.removeAttribute('hidden');
    else panel.setAttribute('hidden', '');
  }

  function openDisclosures() {
    return document.querySelectorAll('[data-cvms-disclosure][aria-expanded="true"]');
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('[data-cvms-disclosure]');
    openDisclosures().forEach(function (other) {
      var panel = document.getElementById(other.getAttribute('aria-controls'));
      if (other !== button && !(panel && panel.contains(event.target))) setOpen(other, false);
    });
    if (button) setOpen(button, button.getAttribute('aria-expanded') !== 'true');
  });

  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape') return;
    openDisclosures().forEach(function (button) {
      var panel = document.getElementById(button.getAttribute('aria-controls'));
      var inside = panel && panel.contains(document.activeElement);
      setOpen(button, false);
      if (inside || document.activeElement === button) button.focus();
    });
  });

  var pending = false;
  function sweep() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      scrollAreas();
      sortableHeaders();
      uploadInputs();
      uploadMessages();
      radioGroups();
      selectStates();
    });
  }

  function start() {
    new MutationObserver(sweep).observe(document.body, { childList: true, subtree: true, attributes: true,
      attributeFilter: ['class', 'data-cvms-aria-required', 'data-cvms-aria-invalid', 'data-cvms-aria-describedby'] });
    window.addEventListener('resize', sweep);
    sweep();
    window.setTimeout(focusHeading, 300);
  }

  if (document.readyState === 'complete') start();
  else window.addEventListener('load', start);
})();
