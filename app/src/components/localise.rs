//! What the server cannot know about a reader — time zone, language, number
//! format — and the browser can. Pages are rendered once for everyone (and
//! cached), so instants come in UTC ([`super::LocalTime`]) and amounts as
//! `49.00 USD` ([`super::Money`]); [`LOCALISE_SCRIPT`], inline at the end of
//! the page, rewrites every such element as it is parsed — before the first
//! paint and before the WASM arrives — and hydration keeps that text, so
//! nothing flashes. Rendered in the browser later (after a navigation), the
//! components format through the same two functions, so a page reads the same
//! however it was reached.

/// Defines `flashsaleLocalTime(ms, seconds)` (the browser's locale and zone; to
/// the second for `data-seconds`) and `flashsaleMoney(value, currency)` (the
/// browser's currency format), each keeping its `Intl` formatters (making one
/// costs a phone about 10 ms, and hydration formats every amount again), and
/// applies them to every `time[data-local]`
/// and `data[data-currency]`, now and in what streams in until the page has
/// loaded (later ones are rendered local already). Only the element's text
/// node is rewritten: the comment markers beside it are what hydration walks.
pub const LOCALISE_SCRIPT: &str = r#"(function () {
  var format = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  var precise = Object.assign({ second: "2-digit" }, format);
  var dates = {}, amounts = {};
  window.flashsaleLocalTime = function (ms, seconds) {
    var key = seconds ? "precise" : "format";
    dates[key] = dates[key] || new Intl.DateTimeFormat(undefined, seconds ? precise : format);
    return dates[key].format(new Date(ms));
  };
  window.flashsaleMoney = function (value, currency) {
    try {
      amounts[currency] = amounts[currency] || new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
      return amounts[currency].format(Number(value));
    } catch (e) { return value + " " + currency; }
  };
  function localise(node) {
    var text = node.localName === "time"
      ? window.flashsaleLocalTime(Number(node.dataset.local), node.dataset.seconds === "1")
      : window.flashsaleMoney(node.value, node.dataset.currency);
    var first = node.firstChild;
    if (first && first.nodeType === 3) { if (first.nodeValue !== text) first.nodeValue = text; }
    else node.insertBefore(document.createTextNode(text), first);
  }
  var selector = "time[data-local], data[data-currency]";
  function within(node) {
    if (node.nodeType !== 1) return;
    if (node.matches(selector)) localise(node);
    node.querySelectorAll(selector).forEach(localise);
  }
  document.querySelectorAll(selector).forEach(localise);
  var streamed = new MutationObserver(function (changes) {
    changes.forEach(function (change) { change.addedNodes.forEach(within); });
  });
  streamed.observe(document.documentElement, { childList: true, subtree: true });
  window.addEventListener("load", function () { streamed.disconnect(); });
})();"#;
