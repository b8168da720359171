// End-to-end test: a repo imported with `hubmirror import` and served by `hubmirror serve` must work,
// unmodified, with the official JavaScript client `@huggingface/hub`: repo info, listings, file
// metadata and downloads.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test client.test.mjs
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";

import { downloadFile, fileDownloadInfo, listFiles, modelInfo } from "@huggingface/hub";

import { BASE_MODEL, BIG_FILE, expected, LFS_SMALL_FILE, recordingFetch, REPO, REPO_NAME, served, useServedRepo, withTrace } from "./fixture.mjs";

useServedRepo("hubmirror-e2e-client-");

const HEX40 = /^[0-9a-f]{40}$/;

/** Hashes a Blob by streaming it (never buffers a large download in memory). */
async function digestBlob(blob) {
	const hash = createHash("sha256");
	const gitHash = createHash("sha1").update(`blob ${blob.size}\0`);
	let length = 0;
	for await (const chunk of blob.stream()) {
		hash.update(chunk);
		gitHash.update(chunk);
		length += chunk.byteLength;
	}
	return { sha256: hash.digest("hex"), gitSha1: gitHash.digest("hex"), length };
}

/** Every directory that holds one of `paths`, at any depth. */
function ancestorsOf(paths) {
	const dirs = new Set();
	for (const p of paths) {
		const parts = p.split("/");
		for (let i = 1; i < parts.length; i++) {
			dirs.add(parts.slice(0, i).join("/"));
		}
	}
	return dirs;
}

describe("hubmirror serves an imported model repo to @huggingface/hub", () => {
	test("modelInfo returns name, sha, cardData and derived tags", { timeout: 15_000 }, async (t) => {
		await withTrace(t, async () => {
			const info = await modelInfo({
				name: REPO_NAME,
				hubUrl: served.url,
				additionalFields: ["sha", "cardData", "tags"],
				fetch: recordingFetch,
			});
			assert.equal(info.name, REPO_NAME);
			assert.equal(typeof info.id, "string", "modelInfo.id comes from the `_id` field, which must be present");
			assert.ok(info.id.length > 0, "`_id` must not be empty");
			assert.match(info.sha, HEX40, "sha must be a 40-hex commit id");
			assert.ok(!Number.isNaN(info.updatedAt.getTime()), "lastModified must be a parseable date");
			assert.ok(info.cardData && typeof info.cardData === "object", "cardData must be an object");
			assert.equal(info.cardData.base_model, BASE_MODEL);
			assert.equal(info.cardData.license, "mit");
			assert.ok(Array.isArray(info.tags), "tags must be an array");
			assert.ok(
				info.tags.includes(`base_model:${BASE_MODEL}`),
				`tags must include base_model:${BASE_MODEL}, got ${JSON.stringify(info.tags)}`,
			);

			// An explicit branch resolves to the same commit as the default revision (HEAD).
			const onMain = await modelInfo({
				name: REPO_NAME,
				hubUrl: served.url,
				revision: "main",
				additionalFields: ["sha"],
				fetch: recordingFetch,
			});
			assert.equal(onMain.sha, info.sha, "revision main and HEAD must resolve to the same commit");
		});
	});

	test("listFiles (recursive) lists every file with size and hashes", { timeout: 15_000 }, async (t) => {
		await withTrace(t, async () => {
			const entries = [];
			for await (const entry of listFiles({ repo: REPO, recursive: true, hubUrl: served.url, fetch: recordingFetch })) {
				entries.push(entry);
			}

			const files = new Map();
			const dirs = new Set();
			for (const e of entries) {
				assert.ok(e.type === "file" || e.type === "directory", `bad entry type: ${JSON.stringify(e)}`);
				assert.equal(e.xetHash, undefined, `a mirror must not advertise Xet: ${JSON.stringify(e)}`);
				if (e.type === "file") {
					assert.ok(!files.has(e.path), `file listed twice: ${e.path}`);
					files.set(e.path, e);
				} else {
					assert.ok(!dirs.has(e.path), `directory listed twice: ${e.path}`);
					dirs.add(e.path);
				}
			}

			for (const [path, exp] of expected) {
				const e = files.get(path);
				assert.ok(e, `${path} is missing from the listing; listed files: ${JSON.stringify([...files.keys()])}`);
				assert.equal(e.size, exp.size, `${path}: size`);
				assert.equal(e.oid, exp.gitSha1, `${path}: oid must be the git blob sha1${exp.lfs ? " of the LFS pointer" : ""}`);
				if (exp.lfs) {
					assert.ok(e.lfs, `${path} must be an LFS file: ${JSON.stringify(e)}`);
					assert.equal(e.lfs.oid, exp.sha256, `${path}: lfs.oid must be the sha256 of the content`);
					assert.equal(e.lfs.size, exp.size, `${path}: lfs.size`);
					assert.equal(e.lfs.pointerSize, Buffer.byteLength(exp.pointer), `${path}: lfs.pointerSize`);
				} else {
					assert.equal(e.lfs, undefined, `${path} must not be an LFS file: ${JSON.stringify(e)}`);
				}
			}
			for (const path of files.keys()) {
				assert.ok(expected.has(path), `unexpected file in the listing: ${path}`);
			}

			const expectedDirs = ancestorsOf(files.keys());
			assert.deepEqual(
				[...dirs].sort(),
				[...expectedDirs].sort(),
				"a recursive listing must contain each ancestor directory as a `directory` entry",
			);
		});
	});

	test("fileDownloadInfo: size and ETag for LFS and regular files, null for a missing file", { timeout: 15_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const path of [LFS_SMALL_FILE, BIG_FILE]) {
				const exp = expected.get(path);
				const info = await fileDownloadInfo({ repo: REPO, path, hubUrl: served.url, fetch: recordingFetch });
				assert.ok(info, `${path}: fileDownloadInfo returned null`);
				assert.equal(info.size, exp.size, `${path}: size`);
				assert.equal(info.etag, `"${exp.sha256}"`, `${path}: etag must be the quoted sha256`);
				assert.equal(info.xet, undefined, `${path}: a mirror must not advertise Xet`);
				assert.equal(new URL(info.url).origin, new URL(served.url).origin, `${path}: download URL origin`);
			}

			const cfg = expected.get("config.json");
			const regular = await fileDownloadInfo({ repo: REPO, path: "config.json", hubUrl: served.url, fetch: recordingFetch });
			assert.ok(regular, "config.json: fileDownloadInfo returned null");
			assert.equal(regular.size, cfg.size, "config.json: size");
			assert.equal(regular.etag, `"${cfg.gitSha1}"`, "config.json: etag must be the quoted git blob sha1");

			const missing = await fileDownloadInfo({
				repo: REPO,
				path: "does/not/exist.bin",
				hubUrl: served.url,
				fetch: recordingFetch,
			});
			assert.equal(missing, null, "a missing file must give null (404 with X-Error-Code: EntryNotFound)");
		});
	});

	test("downloadFile returns the exact bytes of every file", { timeout: 60_000 }, async (t) => {
		await withTrace(t, async () => {
			for (const [path, exp] of expected) {
				const blob = await downloadFile({ repo: REPO, path, hubUrl: served.url, fetch: recordingFetch });
				assert.ok(blob, `${path}: downloadFile returned null`);
				assert.equal(blob.size, exp.size, `${path}: blob size`);
				const got = await digestBlob(blob);
				assert.equal(got.length, exp.size, `${path}: number of bytes received`);
				assert.equal(got.sha256, exp.sha256, `${path}: sha256 of the downloaded bytes`);
			}

			// `raw: true` gives the git blob, i.e. the LFS pointer for an LFS file.
			const exp = expected.get(LFS_SMALL_FILE);
			const raw = await downloadFile({ repo: REPO, path: LFS_SMALL_FILE, raw: true, hubUrl: served.url, fetch: recordingFetch });
			assert.ok(raw, `${LFS_SMALL_FILE}: raw downloadFile returned null`);
			assert.equal(await raw.text(), exp.pointer, `${LFS_SMALL_FILE}: raw content must be the LFS pointer`);

			const missing = await downloadFile({ repo: REPO, path: "does/not/exist.bin", hubUrl: served.url, fetch: recordingFetch });
			assert.equal(missing, null, "downloadFile of a missing file must give null");
		});
	});
});
