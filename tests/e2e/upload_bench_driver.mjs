// Driver of tests/bench/upload.sh: times what @huggingface/hub does for an upload, with the
// client's own code.
//
//   node upload_bench_driver.mjs upload HUB_URL TOKEN REPO DIR   uploadFiles of every file of DIR
//   node upload_bench_driver.mjs hash DIR                        the client's sha256 of each file
//
// Prints the seconds the work took on stdout; exits non-zero on any failure.

import { openAsBlob } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

import { __internal_sha256 as sha256, uploadFiles } from "@huggingface/hub";

async function filesOf(dir) {
	const entries = await readdir(dir, { recursive: true, withFileTypes: true });
	return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

const [mode, ...args] = process.argv.slice(2);
const started = process.hrtime.bigint();
if (mode === "upload") {
	const [hubUrl, accessToken, repo, dir] = args;
	const files = (await filesOf(dir)).map((file) => ({ path: relative(dir, file), content: pathToFileURL(file) }));
	await uploadFiles({ repo, accessToken, hubUrl, files, commitTitle: "benchmark upload" });
} else if (mode === "hash") {
	for (const file of await filesOf(args[0])) {
		const hashing = sha256(await openAsBlob(file));
		let step = await hashing.next();
		while (!step.done) step = await hashing.next();
	}
} else {
	console.error("usage: upload HUB_URL TOKEN REPO DIR | hash DIR");
	process.exit(2);
}
console.log((Number(process.hrtime.bigint() - started) / 1e9).toFixed(3));
