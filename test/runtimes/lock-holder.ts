// Child process for the data-directory lock test: opens a file storage on argv[2], prints "open", and
// holds it until killed.
import { fileStorage } from "../../runtimes/node/file-storage.ts";

await fileStorage(process.argv[2]!).open();
process.stdout.write("open\n");
setInterval(() => {}, 1 << 30);
