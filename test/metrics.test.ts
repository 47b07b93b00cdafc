import { expect, test } from "bun:test";
import { MetricsRegistry, mirrorCount } from "../src/metrics.ts";

test("Prometheus text: counters with labels, gauges, histograms with cumulative buckets, sorted families", async () => {
  const m = new MetricsRegistry();
  const c = m.counter("b_total", "a counter");
  c.inc();
  c.inc({ peer: "2", reason: 'quo"te' }, 5);
  m.gauge("a_gauge", "a gauge").set(3.5);
  const h = m.histogram("c_seconds", "latency", [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  let external = 10;
  const mirror = mirrorCount(m.counter("d_total", "mirrored"), () => external);
  m.collect(mirror);
  const text = await m.renderAsync();
  expect(text.indexOf("a_gauge")).toBeLessThan(text.indexOf("b_total"));
  expect(text).toContain("# TYPE b_total counter\nb_total 1\nb_total{peer=\"2\",reason=\"quo\\\"te\"} 5");
  expect(text).toContain("a_gauge 3.5");
  expect(text).toContain('c_seconds_bucket{le="0.1"} 1\nc_seconds_bucket{le="1"} 2\nc_seconds_bucket{le="+Inf"} 3\nc_seconds_sum 5.55\nc_seconds_count 3');
  expect(text).toContain("d_total 10");
  external = 15;
  expect(m.render()).toContain("d_total 15");
  expect(() => m.gauge("b_total", "clash")).toThrow();
});
