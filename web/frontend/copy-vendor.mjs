// Copy the browser files of the pinned npm packages to where the app serves them
// (web/static/vendor/). Run after `npm ci`; the output is generated, not committed.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "static", "vendor");

const files = {
  leaflet: ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"],
  // The API docs page (/docs), so it works offline like every other page.
  "swagger-ui-dist": [
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-32x32.png",
    "oauth2-redirect.html",
    "LICENSE",
  ],
};

for (const [pkg, paths] of Object.entries(files)) {
  const target = join(vendor, pkg);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  for (const path of paths) {
    const name = path.replace(/^dist\//, "");
    cpSync(join(here, "node_modules", pkg, path), join(target, name), { recursive: true });
  }
}
