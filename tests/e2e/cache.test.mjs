// End-to-end test: `@huggingface/hub` downloads a repo served by `hubmirror serve` into its cache
// (downloadFileToCacheDir, snapshotDownload), and `hubmirror check` verifies the snapshot against
// the server's signed manifest.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test cache.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { lstat, open, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describe, test } from "node:test";

import { downloadFileToCacheDir, modelInfo, snapshotDownload } from "@huggingface/hub";

import { BIN, runHubmirror, sha256OfFile } from "../support/harness.mjs";
import { BIG_FILE, BIG_FILE_SIZE, expected, NESTED_FILE, recordingFetch, REPO, REPO_NAME, served, snapshotFiles, SPACE_FILE, useServedRepo, withTrace } from "./fixture.mjs";

const work = useServedRepo("hubmirror-e2e-cache-");

describe("hubmirror serves the cache downloads of @huggingface/hub", () => {
	test("downloadFileToCacheDir writes the HF cache layout", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			const { sha } = await modelInfo({ name: REPO_NAME, hubUrl: served.url, additionalFields: ["sha"], fetch: recordingFetch });
			const cacheDir = work.dir("cache-single");
			const storage = join(cacheDir, "models--acme--e2e-model");

			for (const path of [BIG_FILE, NESTED_FILE, SPACE_FILE]) {
				const exp = expected.get(path);
				const result = await downloadFileToCacheDir({ repo: REPO, path, hubUrl: served.url, cacheDir, fetch: recordingFetch });
				// The snapshot folder is named after paths-info's lastCommit.id (the only commit here).
				assert.equal(
					result,
					join(storage, "snapshots", sha, ...path.split("/")),
					`${path}: returned path (snapshot folder named after lastCommit.id from paths-info)`,
				);
				assert.ok((await lstat(result)).isSymbolicLink(), `${path}: snapshot entry must link to a blob`);
				const blobPath = await realpath(result);
				assert.equal(dirname(blobPath), await realpath(join(storage, "blobs")), `${path}: blob location`);
				assert.equal(basename(blobPath), exp.lfs ? exp.sha256 : exp.gitSha1, `${path}: blob name (etag)`);
				assert.equal((await stat(result)).size, exp.size, `${path}: size on disk`);
				assert.equal(await sha256OfFile(result), exp.sha256, `${path}: sha256 on disk`);
			}

			// A second call is served from the cache and returns the same path.
			const again = await downloadFileToCacheDir({ repo: REPO, path: NESTED_FILE, hubUrl: served.url, cacheDir, fetch: recordingFetch });
			assert.equal(again, join(storage, "snapshots", sha, ...NESTED_FILE.split("/")));
		});
	});

	test("snapshotDownload materialises the whole repo", { timeout: 90_000 }, async (t) => {
		await withTrace(t, async () => {
			const { sha } = await modelInfo({ name: REPO_NAME, hubUrl: served.url, additionalFields: ["sha"], fetch: recordingFetch });
			const cacheDir = work.dir("cache-snapshot");
			const storage = join(cacheDir, "models--acme--e2e-model");

			const folder = await snapshotDownload({ repo: REPO, hubUrl: served.url, cacheDir, fetch: recordingFetch });
			assert.equal(folder, join(storage, "snapshots", sha), "snapshot folder");
			assert.equal((await readFile(join(storage, "refs", "main"), "utf8")).trim(), sha, "refs/main");

			const onDisk = await snapshotFiles(folder);
			const extra = onDisk.filter((p) => !expected.has(p));
			assert.deepEqual(extra, [], "unexpected extra files in the snapshot");
			const missing = [...expected.keys()].filter((p) => !onDisk.includes(p));
			assert.deepEqual(missing, [], "files missing from the snapshot");

			for (const p of onDisk) {
				const abs = join(folder, ...p.split("/"));
				const exp = expected.get(p);
				assert.equal((await stat(abs)).size, exp.size, `${p}: size in snapshot`);
				assert.equal(await sha256OfFile(abs), exp.sha256, `${p}: sha256 in snapshot`);
			}
		});
	});

	test("hubmirror check verifies a snapshotDownload against the server's signed manifest", { timeout: 90_000 }, async (t) => {
		await withTrace(t, async () => {
			const cacheDir = work.dir("cache-check");
			const folder = await snapshotDownload({ repo: REPO, hubUrl: served.url, cacheDir, fetch: recordingFetch });

			const keyResponse = await recordingFetch(`${served.url}/api/integrity/key`);
			assert.equal(keyResponse.status, 200, "GET /api/integrity/key");
			const keyId = keyResponse.headers.get("x-key-id");
			assert.ok(keyId, "/api/integrity/key must name its key in X-Key-Id");
			const keyFile = work.dir("check-key.pem");
			await writeFile(keyFile, await keyResponse.text());

			const manifestResponse = await recordingFetch(`${served.url}/api/integrity/models/${REPO_NAME}/main`);
			const manifestText = await manifestResponse.text();
			assert.equal(manifestResponse.status, 200, `GET /api/integrity/models/${REPO_NAME}/main: ${manifestText.slice(0, 300)}`);
			const manifest = JSON.parse(manifestText).manifest;
			assert.equal(manifest.key_id, keyId, "the manifest is signed with the served key");
			assert.deepEqual(manifest.files.map((f) => f.path).sort(), [...expected.keys()].sort(), "the manifest lists every file");
			const manifestFile = work.dir("check-manifest.json");
			await writeFile(manifestFile, manifestText);

			// The snapshot folder holds symlinks into blobs/, which check follows.
			const passed = await runHubmirror(BIN, ["check", "--manifest", manifestFile, "--key", keyFile, folder], { timeoutMs: 60_000 });
			assert.equal(passed.code, 0, `hubmirror check on the snapshot (exit ${passed.code})\nstdout:\n${passed.stdout}\nstderr:\n${passed.stderr}`);
			assert.match(passed.stdout, new RegExp(`^${expected.size} ok, 0 mismatched, 0 missing, 0 unexpected$`, "m"));

			// One byte of one downloaded file changed, in the blob its snapshot entry links to.
			const damaged = join(folder, ...BIG_FILE.split("/"));
			assert.ok((await lstat(damaged)).isSymbolicLink(), `${BIG_FILE}: snapshot entry must link to a blob`);
			const blob = await open(await realpath(damaged), "r+");
			try {
				const byte = Buffer.alloc(1);
				await blob.read(byte, 0, 1, BIG_FILE_SIZE >> 1);
				byte[0] ^= 0x01;
				await blob.write(byte, 0, 1, BIG_FILE_SIZE >> 1);
			} finally {
				await blob.close();
			}
			const failed = await runHubmirror(BIN, ["check", "--manifest", manifestFile, "--key", keyFile, folder], { timeoutMs: 60_000 });
			assert.equal(failed.code, 1, `hubmirror check after the change (exit ${failed.code})\nstdout:\n${failed.stdout}\nstderr:\n${failed.stderr}`);
			assert.match(
				failed.stdout,
				new RegExp(`^mismatched: ${BIG_FILE}: sha256 [0-9a-f]{64} \\(${BIG_FILE_SIZE} bytes\\), expected ${expected.get(BIG_FILE).sha256} \\(${BIG_FILE_SIZE} bytes\\)$`, "m"),
			);
			assert.match(failed.stdout, new RegExp(`^${expected.size - 1} ok, 1 mismatched, 0 missing, 0 unexpected$`, "m"));
		});
	});

});
