// Smoke check under Node (bundled with esbuild and run by scripts/test.mjs): file storage writes, reopens, verifies.
import { storageSmoke } from "../storage-smoke.ts";

try {
  console.log(await storageSmoke("node"));
} catch (e) {
  console.error(e);
  process.exit(1);
}
