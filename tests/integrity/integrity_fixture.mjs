// What the integrity tests (*.test.mjs in this folder) share: REPO imported once with
// `hubmirror import` into a base data dir that each test copies before damaging its stored blobs,
// and the checks of what `hubmirror serve` answers for a file. Plain Node 20 (no npm packages).

import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";

import { encodePath, importRepo, pseudoRandomBytes, useWorkRoot, writeSource } from "../support/harness.mjs";

export const REPO = "acme/integrity-model";
export const MiB = 1024 * 1024;

// The fixture: an LFS file (by extension) well over the 64 KiB that are answered in one piece,
// small git-stored files, one of them nested.
export const MODEL = "model.safetensors";
export const CONFIG = "config.json";
const README = "README.md";
export const NOTES = "docs/notes.txt";
export const MODEL_SIZE = 3 * MiB + 4097; // odd on purpose

/** path -> Buffer, the imported content */
export const files = new Map();
/** The data dir every test copies: REPO imported once. */
export let baseData;
export let commitId;

/** Imports REPO into baseData, under `work`. */
async function importBase(work, t) {
	files.set(MODEL, pseudoRandomBytes(MODEL, MODEL_SIZE));
	files.set(
		CONFIG,
		Buffer.from(JSON.stringify({ architectures: ["IntegrityModel"], model_type: "integrity", hidden_size: 96 }, null, 2) + "\n"),
	);
	files.set(README, Buffer.from("---\nlicense: mit\n---\n\n# integrity-model\n\nA fixture whose blobs get damaged.\n"));
	files.set(NOTES, Buffer.from("notes that live in a sub-folder\n"));
	const src = work.dir("src");
	await writeSource(src, files);
	baseData = work.dir("base-data");
	commitId = await importRepo(t, baseData, src, REPO);
}

/** Sets up a test file: its WorkRoot (`prefix`), in which REPO is first imported into baseData. */
export function useIntegrityFixture(prefix) {
	return useWorkRoot(prefix, { setup: importBase });
}

/** The names in DIR/quarantine, sorted. */
export async function quarantined(dataDir) {
	try {
		return (await readdir(join(dataDir, "quarantine"))).sort();
	} catch (err) {
		if (err.code === "ENOENT") return [];
		throw err;
	}
}

export function fileUrl(server, path, repo = REPO) {
	return `${server.url}/${repo}/resolve/main/${encodePath(path)}`;
}

/** A file the server refuses: 503 BlobUnavailable, and none of the file's bytes. */
export function assertRefused(res, path, content) {
	assert.equal(res.status, 503, `${path}: status (body: ${res.body.toString("utf8", 0, 300)})`);
	assert.equal(res.headers["x-error-code"], "BlobUnavailable", `${path}: X-Error-Code`);
	assert.ok(res.complete, `${path}: the 503 must be a complete response`);
	assert.notEqual(Number(res.headers["content-length"]), content.length, `${path}: Content-Length of the refusal`);
	assert.ok(
		!res.body.includes(content.subarray(0, Math.min(16, content.length))),
		`${path}: the refusal must carry none of the file's bytes`,
	);
}

export function assertServed(res, path, content) {
	assert.equal(res.status, 200, `${path}: status (body: ${res.body.toString("utf8", 0, 300)})`);
	assert.ok(res.complete, `${path}: complete body`);
	assert.equal(res.body.length, content.length, `${path}: length`);
	assert.ok(res.body.equals(content), `${path}: bytes`);
}
