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

  // Quasar's sortable column headers answer only to a mouse and do not say how the table is sorted: they take
  // focus, Enter or Space sorts (Quasar's own click), and aria-sort tells the current order.
  function sortableHeaders() {
    document.querySelectorAll('th.sortable').forEach(function (th) {
      var order = !th.classList.contains('sorted') ? 'none'
        : (th.classList.contains('sort-desc') ? 'descending' : 'ascending');
      if (th.getAttribute('aria-sort') !== order) th.setAttribute('aria-sort', order);
      if (!th.hasAttribute('tabindex')) {
        th.setAttribute('tabindex', '0');
        th.addEventListener('keydown', function (event) {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            th.click();
          }
        });
      }
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
    });
  }

  function start() {
    new MutationObserver(sweep).observe(document.body, { childList: true, subtree: true, attributes: true,
      attributeFilter: ['class'] });
    window.addEventListener('resize', sweep);
    sweep();
    window.setTimeout(focusHeading, 300);
  }

  if (document.readyState === 'complete') start();
  else window.addEventListener('load', start);
})();
