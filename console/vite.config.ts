// Builds the console into dist/ (served by Courier under /console; hashed assets cached for a year).
// Teams' Adaptive Card host configs come from the repository's Node tools (adaptivecards-designer), as for the
// card pictures, so the preview matches what Teams draws.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const hostConfigs = fileURLToPath(new URL("../node_modules/adaptivecards-designer/lib/hostConfigs", import.meta.url));

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  resolve: { alias: { "@hostconfigs": hostConfigs } },
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, chunkSizeWarningLimit: 2000 },
});
