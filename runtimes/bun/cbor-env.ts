/**
 * Imported first by the Bun node command: keeps cbor-x on its pure-JS string decoder instead of loading
 * the optional native addon (cbor-extract), which costs ~3 MB of resident memory on Bun for no measurable
 * speed-up on Raft-sized messages. An explicit CBOR_NATIVE_ACCELERATION_DISABLED setting wins.
 */
process.env.CBOR_NATIVE_ACCELERATION_DISABLED ??= "true";
