#!/usr/bin/env node
// `npm run build`: bundles the Node entry (runtimes/node/node.ts) with esbuild into dist/node.js.
// Dependencies stay external (resolved from node_modules at run time).
import { build } from "esbuild";

await build({
  entryPoints: ["runtimes/node/node.ts"],
  outfile: "dist/node.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
  banner: { js: "#!/usr/bin/env node" },
});
console.log("built dist/node.js");
