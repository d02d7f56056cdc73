import Foundation

/// What a browser is told to allow on a dashboard page, and the one script it may run.
///
/// Every page answers with ``policy``: scripts only from this server (the one served at
/// ``scriptPath``; no inline script, no inline event handler), nothing framed by another site,
/// forms posted only back here. Styles may be inline (`'unsafe-inline'` for `style-src`): the
/// page's style sheet is in its head and the progress bars' widths and the risk matrix's shades
/// are `style` attributes; every text from the data is escaped (``html(_:)``), so no style can
/// be injected through it, and a style cannot run code.
enum PageSecurity {
    static let policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        + "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

    static let scriptPath = "/static/dashboard.js"

    /// The tag every page carries; the script waits for the page to be read (`defer`).
    static let scriptTag = "<script src=\"\(scriptPath)\" defer></script>"

    /// The dashboard's only script: a print button (`data-print`) prints the page, and the
    /// overview's figures (`#figures`) reload when `/events` says they changed, the link that
    /// had the keyboard's focus keeping it. Every page reads the same without it.
    static let script = """
        (function () {
          var printers = document.querySelectorAll('[data-print]');
          for (var i = 0; i < printers.length; i++) {
            printers[i].addEventListener('click', function () { window.print(); });
          }
          var here = document.getElementById('figures');
          if (!here || !window.EventSource || !window.fetch || !window.DOMParser) return;
          var source = new EventSource('/events');
          source.addEventListener('figures', function () {
            fetch(location.pathname, {credentials: 'same-origin'}).then(function (r) { return r.text(); }).then(function (text) {
              var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('figures');
              var now = document.getElementById('figures');
              if (!fresh || !now) return;
              // A keyboard reader keeps their place: the link they were on is focused again.
              var on = document.activeElement;
              var href = on && now.contains(on) ? on.getAttribute('href') : null;
              now.innerHTML = fresh.innerHTML;
              var again = href && now.querySelector('a[href="' + CSS.escape(href) + '"]');
              if (again) again.focus();
            });
          });
        })();

        """
}
