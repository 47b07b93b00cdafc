import { describe, expect, test } from "bun:test";
import { parseNodeArgs, parsePeers, UsageError } from "../../src/node/cli.ts";

const run = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseNodeArgs(argv, env);
  if (r.kind !== "run") throw new Error("expected run");
  return r.options;
};
const fails = (argv: string[], text: string) => {
  let err: unknown;
  try {
    parseNodeArgs(argv, {});
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UsageError);
  expect((err as Error).message).toContain(text);
  expect((err as Error).message).not.toContain("\n");
};

describe("node command flags", () => {
  test("defaults: a one-node cluster on 127.0.0.1:19001 with ./data/node-<id>", () => {
    expect(run(["--id", "1"])).toEqual({ nodeId: 1, peers: [{ id: 1, addr: "127.0.0.1:19001" }], listen: "127.0.0.1:19001", dataDir: "./data/node-1", logLevel: "info" });
  });

  test("--peers id=host:port; --listen defaults to this node's entry", () => {
    const o = run(["--id", "2", "--peers", "1=127.0.0.1:19001,2=127.0.0.1:19002,3=127.0.0.1:19003"]);
    expect(o.peers).toHaveLength(3);
    expect(o.listen).toBe("127.0.0.1:19002");
  });

  test("--peers in the guide's form numbers nodes 1..n in order", () => {
    expect(parsePeers("10.0.0.1:9000,10.0.0.2:9000,[::1]:9000")).toEqual([
      { id: 1, addr: "10.0.0.1:9000" }, { id: 2, addr: "10.0.0.2:9000" }, { id: 3, addr: "[::1]:9000" },
    ]);
  });

  test("aliases, --flag=value, env vars, overrides", () => {
    const o = run(["--node-id=3", "--raft-addr", "0.0.0.0:7000", "--data-dir", "/tmp/x", "--snapshot-threshold", "100"], {
      STREAMBUS_CLUSTER_SECRET: "sec", STREAMBUS_ADMIN_TOKEN: "tok",
    });
    expect(o).toMatchObject({ nodeId: 3, listen: "0.0.0.0:7000", dataDir: "/tmp/x", clusterSecret: "sec", adminToken: "tok", snapshotThreshold: 100 });
    expect(run(["--id", "1", "--cluster-secret", "flag"], { STREAMBUS_CLUSTER_SECRET: "env" }).clusterSecret).toBe("flag");
  });

  test("--snapshot-log-ratio takes a number >= 0", () => {
    expect(run(["--id", "1", "--snapshot-log-ratio", "0"]).snapshotLogRatio).toBe(0);
    expect(run(["--id", "1", "--snapshot-log-ratio=2.5"]).snapshotLogRatio).toBe(2.5);
    expect(run(["--id", "1"]).snapshotLogRatio).toBeUndefined();
    for (const bad of ["-1", "x", "", "1e3"]) fails(["--id", "1", `--snapshot-log-ratio=${bad}`], "--snapshot-log-ratio must be a number >= 0");
  });

  test("--join: a node added to a running cluster; it needs the members in --peers", () => {
    expect(run(["--id", "4", "--join", "--peers", "1=127.0.0.1:19001,4=127.0.0.1:19004"]).join).toBe(true);
    expect(run(["--id", "1"]).join).toBeUndefined();
    fails(["--id", "4", "--join"], "--join needs --peers");
    fails(["--id", "4", "--join", "--peers", "4=127.0.0.1:19004"], "--join needs --peers");
  });

  test("--cluster-token: given to the node's Raft config; never empty", () => {
    expect(run(["--id", "1", "--cluster-token", "staging"]).clusterToken).toBe("staging");
    expect(run(["--id", "1"]).clusterToken).toBeUndefined();
    fails(["--id", "1", "--cluster-token="], "--cluster-token must not be empty");
  });

  test("--help", () => {
    const r = parseNodeArgs(["--id", "x", "--help"], {});
    expect(r.kind).toBe("help");
    if (r.kind === "help") expect(r.text).toContain("--cluster-secret");
  });

  test("bad flags give one-line reasons", () => {
    fails([], "--id is required");
    fails(["--id", "0"], "positive integer");
    fails(["--id", "abc"], "positive integer");
    fails(["--id"], "needs a value");
    fails(["--id", "1", "--bogus", "1"], "unknown flag");
    fails(["--id", "1", "--id", "2"], "given twice");
    fails(["--id", "4", "--peers", "1=a:1,2=b:2"], "not in --peers");
    fails(["--id", "1", "--peers", "1=a:1,b:2"], "mixes");
    fails(["--id", "1", "--peers", "1=a:1,1=b:2"], "twice");
    fails(["--id", "1", "--peers", "1=nope"], "not host:port");
    fails(["--id", "1", "--listen", "localhost"], "not host:port");
    fails(["--id", "1", "--log-level", "loud"], "--log-level");
  });
});
