// Smoke check under Deno (run by scripts/test.mjs with `deno run -A`): file storage writes, reopens, verifies.
import { storageSmoke } from "../storage-smoke.ts";

try {
  console.log(await storageSmoke("deno"));
} catch (e) {
  console.error(e);
  process.exit(1);
}
