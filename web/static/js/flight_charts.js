// One flight's charts (altitude and speed; HDOP and RSSI), drawn by the server
// with the campaign report's matplotlib code (GET .../flights/{n}/charts/{chart},
// SVG): no charting library in the page. Loaded when the reader opens them.

import { t } from "./i18n.js";
import { api, el } from "./session.js";

/** The charts the server draws, each titled flight_charts.<chart>. */
const CHARTS = ["altitude_speed", "signal"];

/** Return a closed <details> that fetches flight `number`'s charts when opened. */
export function flightCharts(bookingId, number) {
  const body = el("div", { class: "flight-charts" });
  const box = el("details", { class: "flight-charts-box", dataset: { bookingId: String(bookingId), flight: String(number) } },
    el("summary", {}, t("ui.charts")), body);
  box.addEventListener("toggle", async () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = "loading";
    // The charts need the bearer token, which an <img src> cannot carry: fetch
    // each, then show it from a blob URL.
    const images = await Promise.all(CHARTS.map(async (chart) => {
      const alt = t(`flight_charts.${chart}`);
      try {
        const response = await api(`bookings/${bookingId}/flights/${number}/charts/${chart}`, { raw: true });
        const url = URL.createObjectURL(await response.blob());
        return el("img", { src: url, alt, class: `flight-chart chart-${chart}` });
      } catch (err) {
        return el("p", { class: "error" }, `${alt}: ${err.message}`);
      }
    }));
    body.replaceChildren(...images);
    box.dataset.loaded = "true";
  });
  return box;
}
