/// <reference lib="dom" />
/**
 * A browser whose language is not a valid BCP 47 tag (`en-US@posix`, what some minimal Chromium
 * builds report under a POSIX locale) makes `Intl` throw wherever that language is passed, and
 * uPlot passes `navigator.language` when its module loads. Imported first by main.ts: such a
 * language is replaced by `en-US` for this page, so the Studio loads whatever the locale.
 */
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(navigator, "language", { value: "en-US", configurable: true });
}
