// One flight's charts (altitude and speed; HDOP and RSSI), drawn by the server
// with the campaign report's matplotlib code (GET .../flights/{n}/charts/{chart},
// SVG): no charting library in the page. Loaded when the reader opens them.

import { currentLanguage, onLanguageChange, t } from "./i18n.js";
import { api, el } from "./session.js";

/** The charts the server draws, each titled flight_charts.<chart>. */
const CHARTS = ["altitude_speed", "signal"];

/** Return a closed <details> that fetches flight `number`'s charts when opened. */
export function flightCharts(bookingId, number) {
  const body = el("div", { class: "flight-charts" });
  const box = el("details", { class: "flight-charts-box", dataset: { bookingId: String(bookingId), flight: String(number) } },
    el("summary", {}, t("ui.charts")), body);
  const load = async () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = "loading";
    // The charts need the bearer token, which an <img src> cannot carry: fetch
    // each, then show it from a blob URL.
    const images = await Promise.all(CHARTS.map(async (chart) => {
      const alt = t(`flight_charts.${chart}`);
      try {
        // The language in the URL too: a chart the browser cached in one language
        // is never reused after a switch to the other.
        const query = new URLSearchParams({ lang: currentLanguage() });
        const response = await api(`bookings/${bookingId}/flights/${number}/charts/${chart}?${query}`, { raw: true });
        const url = URL.createObjectURL(await response.blob());
        return el("img", { src: url, alt, class: `flight-chart chart-${chart}` });
      } catch (err) {
        return el("p", { class: "error" }, `${alt}: ${err.message}`);
      }
    }));
    body.replaceChildren(...images);
    box.dataset.loaded = "true";
  };
  box.addEventListener("toggle", load);
  reloads.set(box, load);
  return box;
}

/** Each chart box's loader: after a language switch, open boxes draw their charts
 * again (in the new language) and closed ones do when next opened. */
const reloads = new WeakMap();

if (typeof document !== "undefined") {
  onLanguageChange(() => {
    for (const box of document.querySelectorAll(".flight-charts-box")) {
      const summary = box.querySelector("summary");
      if (summary) summary.textContent = t("ui.charts");
      delete box.dataset.loaded;
      reloads.get(box)?.();
    }
  });
}
