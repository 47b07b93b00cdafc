import { expect, test } from "bun:test";
import type { Hono } from "hono";
import { bunRuntime } from "../../../runtimes/bun/runtime-adapter.ts";

test("an error that escapes the app gets a bare 500 from Bun, never a page with the error and its stack", async () => {
  // Hono's onError answers every handler error itself; this app throws outside it, as a bug in the
  // adapter or a runtime would.
  const app = { fetch: () => { throw new Error("secret-detail-do-not-show"); } } as unknown as Hono;
  const server = await bunRuntime.serve(app, "127.0.0.1", 0);
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/anything`);
    const text = await res.text();
    expect(res.status).toBe(500);
    expect(text).not.toContain("secret-detail-do-not-show");
    expect(JSON.parse(text)).toEqual({ error: { code: "Internal", message: "internal error" } });
  } finally {
    await server.close();
  }
});
