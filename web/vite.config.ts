/// <reference types="vitest/config" />
// The dashboard builds into the Python package (aiflow/server/dashboard_dist), which
// `aiflow server` serves under `/`; `npm run dev` proxies the API to a local server.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../aiflow/server/dashboard_dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    // no inline scripts or styles may be needed: the server's CSP forbids inline scripts
    modulePreload: { polyfill: false },
  },
  server: {
    // Host kept: a dev-mode server only accepts changes from pages of its own origin
    proxy: { "/api": { target: "http://127.0.0.1:8080", changeOrigin: false } },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    globals: true,
  },
});
